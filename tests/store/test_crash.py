"""kill -9 of the store consumer at five random moments of a load: the final tables equal
those of an uninterrupted load of the same topic (nothing lost, nothing doubled).

The consumer runs as ``python -m workloads.store consume`` in a subprocess.  Moments are
drawn as random progress points (so every kill lands mid-load) plus a random delay, so
kills fall inside transactions, between them, during rebalances and during start-up.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.scratch import drop_schema, unique
from tests.store.conftest import settings
from tests.store.helpers import (
    REPO,
    contract_message,
    history_messages,
    history_rows,
    produce,
    record_lines,
    store_cli,
)
from workloads.store import StoreTarget
from workloads.store.consumer import StoreConsumer
from workloads.store.db import connect
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
VERSION_COLUMNS = (
    "cve_id, version, sha256, kind, state, date_updated, valid_from, valid_to, out_of_order, changes, diff,"
    " source, release, topic, kafka_partition, kafka_offset, record"
)


def tables(target: StoreTarget) -> dict[str, list[Any]]:
    with connect(target) as conn:
        current_columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'cves'"
                " AND column_name NOT IN ('ingested_at') ORDER BY ordinal_position",
                [target.schema],
            )
        ]
        return {
            "versions": conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM cve_versions ORDER BY cve_id, version"
            ).fetchall(),
            "current": conn.execute(
                f"SELECT {', '.join(current_columns)} FROM cves ORDER BY cve_id"
            ).fetchall(),
            "positions": conn.execute(
                "SELECT topic, partition, next_offset FROM consumer_offsets ORDER BY topic, partition"
            ).fetchall(),
        }


def applied(target: StoreTarget) -> int:
    with connect(target) as conn:
        row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets").fetchone()
    return int(row[0]) if row else 0


def spawn_consumer(
    kafka: Any, dsn: str, target: StoreTarget, topic: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CVERAG_PG_DSN": dsn,
        "CVERAG_PG_SCHEMA": target.schema,
        "CVERAG_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "CVERAG_TOPIC": topic,
        "CVERAG_CONSUMER_GROUP": "crashing",
        "CVERAG_BATCH_SIZE": "100",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workloads.store", "consume"], env=env, stdout=out, stderr=out
        )


def kill_when_applied(
    kafka: Any, dsn: str, target: StoreTarget, topic: str, log: Path, goal: int, rng: random.Random,
    timeout: float,
) -> None:  # fmt: skip
    """Run a consumer until it has applied ``goal`` offsets (or exited, or ``timeout``), then,
    after a random moment of up to 0.3 s, SIGKILL it wherever it is."""
    consumer = spawn_consumer(kafka, dsn, target, topic, log)
    deadline = time.monotonic() + timeout
    while applied(target) < goal and consumer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.3))
    os.kill(consumer.pid, signal.SIGKILL)
    consumer.wait()


def test_kill_nine_five_times_equals_uninterrupted_load(
    kafka: Any, postgres: Any, topic: str, shared_data: Path, tmp_path: Path
) -> None:
    lines = record_lines(shared_data, 6000)
    messages = [contract_message(line) for line in lines[:3000]]
    messages += list(history_messages(history_rows(shared_data)))
    messages += [contract_message(line) for line in lines[3000:]] + messages[:500]  # re-sent: unchanged
    total = produce(kafka.bootstrap, topic, messages)

    reference = StoreTarget(postgres.dsn, unique("reference"))
    crashed = StoreTarget(postgres.dsn, unique("crashed"))
    seed = int(os.environ.get("CVERAG_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    try:
        migrate(reference)
        migrate(crashed)
        StoreConsumer(settings(kafka, topic, "uninterrupted", batch_size=100), reference).run()
        kills = []
        for goal in sorted(rng.sample(range(total // 10, total * 9 // 10), 5)):
            kill_when_applied(kafka, postgres.dsn, crashed, topic, tmp_path / "consumer.log", goal, rng, 180)
            kills.append(applied(crashed))
        assert all(0 < k < total for k in kills), (
            f"every kill must land mid-load: {kills} of {total} (seed {seed})"
        )
        final = store_cli(postgres.dsn, crashed.schema, "consume", "--bootstrap", kafka.bootstrap, "--topic",
                          topic, "--group", "crashing", "--until-idle", "4")  # fmt: skip
        assert final["_exit"] == 0, final["_stderr"][-2000:]
        assert applied(crashed) == total
        assert tables(crashed) == tables(reference), f"seed {seed}, kills at {kills}"
    finally:
        drop_schema(postgres.dsn, reference.schema)
        drop_schema(postgres.dsn, crashed.schema)
