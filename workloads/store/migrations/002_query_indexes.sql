-- Indexes for what users ask: full text, "affects vendor X / product Y / CWE Z",
-- "published since", "score at least", "in KEV".  CPE arrays are not indexed: they are
-- read back with a record, not searched (a prefix search would need trigram anyway).
CREATE INDEX IF NOT EXISTS cves_search ON cves USING gin (search);
CREATE INDEX IF NOT EXISTS cves_cwe_ids ON cves USING gin (cwe_ids);
CREATE INDEX IF NOT EXISTS cves_vendors ON cves USING gin (vendors);
CREATE INDEX IF NOT EXISTS cves_products ON cves USING gin (products);
CREATE INDEX IF NOT EXISTS cves_vendor_products ON cves USING gin (vendor_products);
CREATE INDEX IF NOT EXISTS cves_date_published ON cves (date_published);
CREATE INDEX IF NOT EXISTS cves_date_updated ON cves (date_updated);
CREATE INDEX IF NOT EXISTS cves_base_score ON cves (base_score);
CREATE INDEX IF NOT EXISTS cves_kev_date_added ON cves (kev_date_added) WHERE kev_date_added IS NOT NULL;
CREATE INDEX IF NOT EXISTS cves_state ON cves (state);
