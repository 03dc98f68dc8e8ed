-- Every assessment with its provenance (docs/provenance.md).  NVD API 2.0 items of a CVE the
-- store holds as a CVE 5 record are enrichment of that record, not versions of it: the latest
-- item per CVE is kept in nvd_items, and every assessor's CVSS vectors/scores and CWE ids, of
-- the current CVE 5 version (origin cve5) and of the latest NVD item (origin nvd), in
-- assessments.  Each origin's rows of a CVE are replaced whole when that origin changes.
CREATE TABLE IF NOT EXISTS nvd_items (
    cve_id          text PRIMARY KEY,
    sha256          text        NOT NULL,
    vuln_status     text,
    last_modified   timestamptz,
    topic           text,
    kafka_partition integer,
    kafka_offset    bigint,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    record          jsonb       NOT NULL
);

CREATE TABLE IF NOT EXISTS assessments (
    cve_id      text        NOT NULL,
    origin      text        NOT NULL CHECK (origin IN ('cve5', 'nvd')),
    source      text        NOT NULL,
    provider    text,
    kind        text        NOT NULL,
    value       text,
    score       numeric(3, 1),
    severity    text,
    recorded_at timestamptz,
    version     integer,
    ingested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS assessments_by_cve ON assessments (cve_id, origin);
