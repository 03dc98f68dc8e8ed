"""Small pieces every workload shares: what a CVE record is and how it is identified."""
