"""Snapshots (as-of by name) and retention (keep last N, retain days), via the command line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import settings
from tests.store.helpers import history_messages, history_rows, produce, store_cli
from workloads.common.records import content_hash
from workloads.store import StoreReader, StoreTarget
from workloads.store.consumer import StoreConsumer
from workloads.store.db import connect

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def versions_per_cve(target: StoreTarget) -> Counter[str]:
    with connect(target) as conn:
        return Counter(
            dict(conn.execute("SELECT cve_id, count(*) FROM cve_versions GROUP BY cve_id").fetchall())
        )


def test_snapshots_survive_pruning(
    kafka: Any, postgres: Any, store: StoreTarget, topic: str, shared_data: Path
) -> None:
    rows = history_rows(shared_data)
    half = len(rows) // 2
    produce(kafka.bootstrap, topic, history_messages(rows[:half]))
    StoreConsumer(settings(kafka, topic, "retention"), store).run()
    taken = store_cli(postgres.dsn, store.schema, "snapshot", "mid-history", "--note", "half loaded")
    assert taken["_exit"] == 0 and taken["seq"] > 0
    assert store_cli(postgres.dsn, store.schema, "snapshot", "mid-history")["_exit"] == 2, "names are unique"
    produce(kafka.bootstrap, topic, history_messages(rows[half:]))
    StoreConsumer(settings(kafka, topic, "retention"), store).run()

    at_snapshot = {row["cve_id"]: content_hash(row["record"]) for row in rows[:half]}
    with StoreReader(store) as query:

        def check_snapshot() -> None:
            for cve in {row["cve_id"] for row in rows}:
                found = query.get(cve, as_of="mid-history")
                assert (found.sha256 if found else None) == at_snapshot.get(cve), cve

        check_snapshot()
        pruned = store_cli(postgres.dsn, store.schema, "prune", "--keep", "2")
        assert pruned["_exit"] == 0 and pruned["deleted_versions"] > 0
        check_snapshot()
        counts = versions_per_cve(store)
        assert all(n <= 3 for n in counts.values()), "last two plus at most one pinned by the snapshot"
        for cve in counts:
            current = query.get(cve)
            assert current is not None and current.sha256 == content_hash(
                next(r["record"] for r in reversed(rows) if r["cve_id"] == cve)
            )
            numbers = [v.version for v in query.history(cve)]
            assert numbers == sorted(numbers) and numbers[-1] == current.version, "never renumbered"

        assert store_cli(postgres.dsn, store.schema, "snapshot", "mid-history", "--delete")["deleted"] is True
        store_cli(postgres.dsn, store.schema, "prune", "--keep", "2")
        assert max(versions_per_cve(store).values()) == 2
        everything = store_cli(postgres.dsn, store.schema, "prune", "--retain-days", "0")
        assert everything["deleted_versions"] > 0
        stats = query.stats()
        assert stats.versions == stats.cves, "only current versions are left"


def test_keep_all_prunes_nothing(postgres: Any, store: StoreTarget) -> None:
    assert store_cli(postgres.dsn, store.schema, "prune", "--keep", "all")["deleted_versions"] == 0
    assert store_cli(postgres.dsn, store.schema, "prune", "--keep", "0")["_exit"] == 2
