-- A record's own times are bounded (issue 12): a dateUpdated or cverag-observed-at beyond its
-- Kafka timestamp (and the ingest time) plus a small skew is clamped to that bound, so one
-- version from "2999" cannot pin every later valid_from there.  The time it claimed is kept
-- here; NULL means its times were taken as they were.
ALTER TABLE cve_versions ADD COLUMN IF NOT EXISTS claimed_time timestamptz;
COMMENT ON COLUMN cve_versions.claimed_time IS
    'the future time the record claimed (observed-at or dateUpdated) when valid_from/date_updated were clamped';
