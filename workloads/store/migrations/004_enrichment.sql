-- Enrichment loaded from outside the feed, joined at query time by CVE id.
CREATE TABLE IF NOT EXISTS kev_catalog (
    cve_id              text PRIMARY KEY,
    vendor_project      text,
    product             text,
    vulnerability_name  text,
    date_added          date,
    short_description   text,
    required_action     text,
    due_date            date,
    known_ransomware    text,
    notes               text,
    cwes                text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS epss_scores (
    cve_id     text PRIMARY KEY,
    epss       double precision NOT NULL,
    percentile double precision NOT NULL
);

-- What was loaded last, from where: the catalog version / score date travels with answers.
CREATE TABLE IF NOT EXISTS enrichment_loads (
    source    text PRIMARY KEY,
    version   text,
    origin    text        NOT NULL,
    rows      integer     NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
