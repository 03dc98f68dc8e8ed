-- Indexes that cost every ingested version more than they gave queries (bench/ingest):
-- * state has three values and 99.8% of rows are PUBLISHED, so a full btree on it never beats a
--   scan for PUBLISHED; only the rare states are worth an index.
-- * "vendor X and product Y" is answered by the vendors and products GIN indexes together
--   (a bitmap AND); the pairs array stays as a column for exact pair matching on the result.
DROP INDEX IF EXISTS cves_state;
CREATE INDEX IF NOT EXISTS cves_state_not_published ON cves (state) WHERE state <> 'PUBLISHED';
DROP INDEX IF EXISTS cves_vendor_products;
