"""The feed workload: read CVE records from a source and publish them to Kafka unchanged.

Sources (cvelistV5 GitHub releases, the NVD API 2.0, a local file or URL) yield raw record
bytes together with where they came from; :mod:`workloads.feed.validate` decides for each
record whether it is publishable, and :mod:`workloads.feed.producer` sends it to the records
topic or, with a reason, to the dead-letter topic.  The message format is the data-plane
contract shared with :mod:`workloads.store`.
"""
