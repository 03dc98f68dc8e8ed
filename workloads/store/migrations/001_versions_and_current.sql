-- Versioned CVE store: every content version of every CVE, and the current one normalised.
-- Runs with search_path set to the store's schema (see workloads/store/migrate.py), so
-- names are unqualified and one database can hold several stores.

-- Every version ever stored, in the order it was applied.  `seq` is the store's own
-- (transaction-time) clock: snapshots name a seq, so "as of snapshot" is exact.
-- valid_from/valid_to is the source's (valid-time) clock: [valid_from, valid_to).
CREATE TABLE IF NOT EXISTS cve_versions (
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    cve_id          text        NOT NULL,
    version         integer     NOT NULL CHECK (version >= 1),
    sha256          text        NOT NULL,
    kind            text        NOT NULL,
    state           text        NOT NULL,
    date_updated    timestamptz,
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz CHECK (valid_to IS NULL OR valid_to >= valid_from),
    out_of_order    boolean     NOT NULL DEFAULT false,
    changes         text[]      NOT NULL,
    diff            jsonb,
    source          text,
    release         text,
    topic           text,
    kafka_partition integer,
    kafka_offset    bigint,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    record          jsonb       NOT NULL,
    PRIMARY KEY (cve_id, version)
);
-- At most one current (open-ended) version per CVE.
CREATE UNIQUE INDEX IF NOT EXISTS cve_versions_one_current ON cve_versions (cve_id) WHERE valid_to IS NULL;

CREATE OR REPLACE FUNCTION words_of(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string($1, ' ') $$;

-- The current version of each CVE, projected onto the columns users filter and search on.
CREATE TABLE IF NOT EXISTS cves (
    cve_id                text PRIMARY KEY,
    version               integer     NOT NULL,
    sha256                text        NOT NULL,
    kind                  text        NOT NULL,
    state                 text        NOT NULL,
    assigner              text,
    date_published        timestamptz,
    date_updated          timestamptz,
    date_reserved         timestamptz,
    date_rejected         timestamptz,
    title                 text,
    description           text,
    cvss_v40_score        numeric(3, 1),
    cvss_v40_severity     text,
    cvss_v40_vector       text,
    cvss_v31_score        numeric(3, 1),
    cvss_v31_severity     text,
    cvss_v31_vector       text,
    cvss_v30_score        numeric(3, 1),
    cvss_v30_severity     text,
    cvss_v30_vector       text,
    cvss_v20_score        numeric(3, 1),
    cvss_v20_severity     text,
    cvss_v20_vector       text,
    base_score            numeric(3, 1),
    base_severity         text,
    cwe_ids               text[]      NOT NULL DEFAULT '{}',
    vendors               text[]      NOT NULL DEFAULT '{}',
    products              text[]      NOT NULL DEFAULT '{}',
    vendor_products       text[]      NOT NULL DEFAULT '{}',
    cpes                  text[]      NOT NULL DEFAULT '{}',
    kev_date_added        date,
    ssvc_exploitation     text,
    ssvc_automatable      text,
    ssvc_technical_impact text,
    valid_from            timestamptz NOT NULL,
    ingested_at           timestamptz NOT NULL DEFAULT now(),
    search                tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(description, '')), 'B')
        || setweight(to_tsvector('english', words_of(vendors) || ' ' || words_of(products)), 'C')
    ) STORED
);

-- The current rows next to their full record.
CREATE OR REPLACE VIEW cve_current AS
    SELECT c.*, v.record FROM cves c JOIN cve_versions v USING (cve_id, version);

-- Kafka positions applied to this store, written in the same transaction as the versions
-- they produced: the single source of truth for where each consumer resumes.
CREATE TABLE IF NOT EXISTS consumer_offsets (
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);
