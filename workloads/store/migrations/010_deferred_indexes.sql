-- Initial load (issue 13): a consumer that finds the store empty drops the query indexes of
-- `cves` (every index that is neither unique nor the primary key: full text, trigram, arrays,
-- dates, scores), loads, and builds them once when it has caught up with the topic
-- (workloads/store/bulkload.py).  Building a GIN index once costs a fraction of maintaining it
-- row by row.  The definitions wait here meanwhile, so a consumer killed mid-load leaves a
-- record of what is missing: the next one continues the load and builds them.  Each row is
-- deleted in the transaction that builds its index.  Nothing here on an upgraded store.
CREATE TABLE IF NOT EXISTS deferred_indexes (
    name        text PRIMARY KEY,
    definition  text        NOT NULL,
    deferred_at timestamptz NOT NULL DEFAULT now()
);
