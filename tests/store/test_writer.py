"""The batch writer against PostgreSQL, without Kafka: exactly-once positions, the direct
and merge paths, array round trips, and isolation of a record the database refuses."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.store.helpers import contract_message
from workloads.store import StoreReader, StoreTarget
from workloads.store.applier import Applier
from workloads.store.deadletter import DeadLetters
from workloads.store.messages import Incoming, RawMessage, Rejected, decode
from workloads.store.settings import ConsumeSettings
from workloads.store.writer import BatchWriter

pytestmark = [pytest.mark.postgres]


def message(offset: int, description: str, vendor: str = "acme", partition: int = 0) -> Incoming | Rejected:
    doc = {
        "dataType": "CVE_RECORD",
        "cveMetadata": {"cveId": f"CVE-2024-{1000 + offset % 7}", "state": "PUBLISHED"},
        "containers": {
            "cna": {
                "descriptions": [{"lang": "en", "value": description}],
                "affected": [{"vendor": vendor, "product": "p"}],
            }
        },
    }
    out = contract_message(
        json.dumps(doc).encode(), observed_at=f"2024-01-01T00:{offset // 60:02d}:{offset % 60:02d}Z"
    )
    return decode(RawMessage("records", partition, offset, out.key, out.value, out.headers, None))


def no_letters(rejected: list[Rejected]) -> None:
    raise AssertionError(f"unexpected dead letters: {rejected}")


def test_positions_make_batches_apply_once(store: StoreTarget) -> None:
    batch = [message(i, f"text {i % 3}") for i in range(40)]
    writer = BatchWriter(store, "group-a")
    first = writer.apply(batch, no_letters)
    assert first.versions > 7 and first.replayed == 0
    again = writer.apply(batch, no_letters)
    assert (again.versions, again.unchanged, again.replayed) == (0, 0, 40)
    zombie = BatchWriter(store, "group-b").apply([*batch[20:], message(40, "new")], no_letters)
    assert (zombie.replayed, zombie.versions) == (20, 1), "another group skips what is already applied"
    with StoreReader(store) as query:
        history = query.history("CVE-2024-1000")
    assert [v.version for v in history] == list(range(1, len(history) + 1))
    writer.close()


def test_merge_path_updates_current_rows(store: StoreTarget) -> None:
    writer = BatchWriter(store, "g")
    writer.apply([message(0, "one")], no_letters)
    writer.apply([message(7, "two", vendor="Other Vendor")], no_letters)
    with StoreReader(store) as query:
        hit = query.search(vendor="other vendor")
        current = query.get("CVE-2024-1000")
    assert [h.cve_id for h in hit] == ["CVE-2024-1000"] and current is not None and current.version == 2
    writer.close()


def test_awkward_strings_survive_the_array_literals(store: StoreTarget) -> None:
    vendor = 'Quote " back\\slash, comma {brace} NULL tab\tnewline\n ünïcode'
    BatchWriter(store, "g").apply([message(0, "x", vendor=vendor)], no_letters)
    with StoreReader(store) as query:
        row = query.conn.execute("SELECT vendors FROM cves").fetchone()
    assert row is not None and row[0] == [" ".join(vendor.split()).lower()]


class CollectingLetters(DeadLetters):
    def __init__(self) -> None:
        super().__init__(ConsumeSettings(bootstrap="unused:9092", topic="t"))
        self.sent: list[Rejected] = []

    def send(self, rejected: list[Rejected]) -> None:
        self.sent.extend(rejected)


def test_a_record_the_database_refuses_is_isolated_and_dead_lettered(store: StoreTarget) -> None:
    batch: list[Any] = [message(i, f"fine {i}") for i in range(6)]
    batch[3].normalised = dataclasses.replace(batch[3].normalised, title="NUL \x00 in text")
    letters = CollectingLetters()
    applier = Applier(store, "g", letters)
    outcome = applier.apply(batch)
    applier.close()
    assert outcome.versions == 5 and outcome.dead_lettered == 1
    assert [r.raw.offset for r in letters.sent] == [3] and letters.sent[0].reason == "invalid-json"
    with StoreReader(store) as query:
        assert query.stats().cves == 5


def test_lanes_split_a_batch_by_partition_and_keep_each_partition_whole(store: StoreTarget) -> None:
    batch = [message(i, f"text {i}", partition=i % 3) for i in range(30)]
    applier = Applier(store, "lanes", CollectingLetters(), writers=2)
    futures = applier.submit(batch)
    outcomes = [f.result() for f in futures]
    applier.close()
    assert len(outcomes) == 2 and sum(o.versions + o.unchanged for o in outcomes) == 30
    with StoreReader(store) as query:
        positions = query.conn.execute(
            "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = 'lanes' ORDER BY partition"
        ).fetchall()
    assert positions == [(0, 28), (1, 29), (2, 30)]
