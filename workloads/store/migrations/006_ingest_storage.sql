-- Ingest cost: PostgreSQL compresses (pglz; this server has no lz4) any row over ~2 KB
-- before storing it, and a CVE record averages ~4 KB.  Measured on the 2-core machine
-- (bench/ingest.py), compression was about half of the database CPU per version.  Rows up to
-- a page (8 KB) are therefore stored uncompressed; larger ones are still compressed and moved
-- out of line.  This trades disk (roughly 2x for the records) for ingest speed.
ALTER TABLE cve_versions SET (toast_tuple_target = 8160);
ALTER TABLE cves SET (toast_tuple_target = 8160);
