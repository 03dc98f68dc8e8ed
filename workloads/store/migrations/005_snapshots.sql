-- Named snapshots: a label for the store's state at a moment, usable as get(id, as_of=name).
-- `seq` is the highest cve_versions.seq committed when it was taken.
CREATE TABLE IF NOT EXISTS snapshots (
    name     text PRIMARY KEY,
    seq      bigint      NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    note     text
);
