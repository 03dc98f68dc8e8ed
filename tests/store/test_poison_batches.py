"""Records PostgreSQL refuses (issue 12): that record alone is dead-lettered, the batch commits.

Faults are told apart by SQLSTATE class (:mod:`workloads.store.sqlstate`); the errors
classified here are raised by the real server, except the few no single session can cause
on demand (deadlocks, a full disk), which are classified by their psycopg class.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.store.helpers import contract_message
from tests.store.test_writer import CollectingLetters, message
from tests.support import hostile
from workloads.store import StoreReader, StoreTarget
from workloads.store.applier import Applier
from workloads.store.db import connect
from workloads.store.messages import RawMessage, decode
from workloads.store.sqlstate import Fault, fault_of
from workloads.store.writer import BatchWriter

pytestmark = [pytest.mark.postgres]


def _raised(target: StoreTarget, statement: str) -> psycopg.Error:
    with connect(target, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc
    raise AssertionError(f"{statement} did not fail")


def test_sqlstate_classes_tell_the_records_fault_from_the_databases(store: StoreTarget) -> None:
    too_long = "SELECT to_tsvector('simple', string_agg('w' || g, ' ')) FROM generate_series(1, 150000) g"
    assert fault_of(_raised(store, too_long)) is Fault.RECORD  # 54000
    assert fault_of(_raised(store, "SELECT E'nul \\\\u0000'::jsonb")) is Fault.RECORD  # 22P05
    assert fault_of(_raised(store, "SELECT 1e400000::float8")) is Fault.RECORD  # 22003
    assert fault_of(_raised(store, "SELECT pg_terminate_backend(pg_backend_pid())")) is Fault.DATABASE
    assert fault_of(_raised(store, "SELECT * FROM no_such_table")) is Fault.FATAL  # 42P01: our bug
    for database in (
        errors.DeadlockDetected,
        errors.SerializationFailure,
        errors.DiskFull,
        errors.AdminShutdown,
    ):
        assert fault_of(database()) is Fault.DATABASE
    assert fault_of(errors.UniqueViolation()) is Fault.DATABASE, "a race with another consumer: retried"
    assert fault_of(errors.CheckViolation()) is Fault.RECORD
    assert fault_of(psycopg.OperationalError("connection refused")) is Fault.DATABASE  # no SQLSTATE


@pytest.mark.timeout(300)
def test_a_description_postgresql_cannot_index_is_dead_lettered_alone(store: StoreTarget) -> None:
    """Before: the 54000 was taken for "database unavailable" and retried forever."""
    poison = contract_message(hostile.unindexable("CVE-2099-0100"))
    good = [message(i, f"fine {i}") for i in (*range(5), *range(6, 13))]  # offsets 0-4 and 6-12
    batch = [
        *good[:5],
        decode(RawMessage("records", 0, 5, poison.key, poison.value, poison.headers, None)),
        *good[5:],
    ]
    letters = CollectingLetters()
    applier = Applier(store, "g", letters)
    outcome = applier.apply(batch)
    applier.close()
    assert (outcome.dead_lettered, outcome.versions + outcome.unchanged) == (1, 12)
    (letter,) = letters.sent
    assert (letter.raw.offset, letter.reason) == (5, "too-large")
    assert "54000" in letter.detail and "tsvector" in letter.detail
    with StoreReader(store) as query:
        assert query.get("CVE-2099-0100") is None and query.stats().cves == 7
        (position,) = query.conn.execute(
            "SELECT next_offset FROM consumer_offsets WHERE group_id = 'g'"
        ).fetchone() or (None,)
    assert position == 13


def test_a_future_date_keeps_as_of_now_on_the_current_version(store: StoreTarget) -> None:
    """Before: the 2999 version pinned every later valid_from to 2999, so as_of=now gave v1."""
    doc = hostile.record("CVE-2099-0200", "first")
    texts = [
        (hostile.encoded(doc), "2024-01-01T00:00:00Z"),
        (hostile.future("CVE-2099-0200"), None),
        (hostile.encoded(hostile.record("CVE-2099-0200", "third")), "2025-01-01T00:00:00Z"),
    ]
    writer = BatchWriter(store, "g")
    for offset, (text, observed) in enumerate(texts):
        out = contract_message(text, observed_at=observed)
        writer.apply([decode(RawMessage("records", 0, offset, out.key, out.value, out.headers, None))], _none)
    writer.close()
    with StoreReader(store) as query:
        now = query.get("CVE-2099-0200", as_of=datetime.now(UTC))
        then = query.get("CVE-2099-0200", as_of="2024-06-01T00:00:00Z")
        assert now is not None and now.version == 3
        assert then is not None and then.version == 1
        clamped = query.conn.execute(
            "SELECT version, claimed_time FROM cve_versions WHERE claimed_time IS NOT NULL"
        ).fetchall()
    assert clamped == [(2, datetime(2999, 1, 1, tzinfo=UTC))]
    assert json.loads(hostile.future("CVE-2099-0200"))["cveMetadata"]["dateUpdated"].startswith("2999")


def _none(rejected: list[Any]) -> None:
    raise AssertionError(f"unexpected dead letters: {rejected}")
