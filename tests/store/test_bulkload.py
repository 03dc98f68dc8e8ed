"""The initial load of an empty store (workloads/store/bulkload.py): the query indexes of
``cves`` are dropped while it loads and built once it has caught up; a load interrupted in
between is continued by the next consumer; a store that holds rows never enters the mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import settings
from tests.store.helpers import contract_message, produce, record_lines
from workloads.store import bulkload
from workloads.store.consumer import StoreConsumer
from workloads.store.db import StoreTarget, connect
from workloads.store.messages import RawMessage, decode
from workloads.store.query import StoreReader
from workloads.store.writer import BatchWriter

pytestmark = [pytest.mark.postgres]


def index_definitions(store: StoreTarget) -> dict[str, str]:
    with connect(store) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'cves'",
            [store.schema],
        ).fetchall()
    return {str(name): str(definition) for name, definition in rows}


def deferred(store: StoreTarget) -> list[str]:
    with connect(store) as conn:
        return [str(r[0]) for r in conn.execute("SELECT name FROM deferred_indexes ORDER BY name")]


def write(store: StoreTarget, lines: list[bytes], partition: int = 0) -> None:
    """Apply ``lines`` through the store's batch writer (the consumer's write path, no Kafka)."""
    raws = []
    for offset, line in enumerate(lines):
        msg = contract_message(line)
        raws.append(RawMessage("t", partition, offset, msg.key, msg.value, msg.headers, None))
    writer = BatchWriter(store, "g")
    try:
        writer.apply([decode(raw) for raw in raws], lambda rejected: None)
    finally:
        writer.close()


@pytest.mark.kafka
def test_a_consumer_loads_an_empty_store_and_builds_the_same_indexes(
    kafka: Any, store: StoreTarget, topic: str, shared_data: Path
) -> None:
    before = index_definitions(store)
    lines = record_lines(shared_data, 600)
    produce(kafka.bootstrap, topic, (contract_message(line) for line in lines))
    consumer = StoreConsumer(settings(kafka, topic), store)
    summary = consumer.run()
    assert summary["versions"] == len(lines)
    assert consumer.indexes_built == len(before) - 1, "every index but the primary key was deferred"
    assert index_definitions(store) == before
    assert deferred(store) == []
    with StoreReader(store) as reader:
        hits = reader.search("apache", limit=5)
    assert hits, "full text finds records after the indexes were built"


def test_an_interrupted_load_is_continued_and_its_indexes_built(
    store: StoreTarget, shared_data: Path
) -> None:
    before = index_definitions(store)
    unique_ones = {n for n, d in before.items() if " UNIQUE " in d or n == "cves_pkey"}
    lines = record_lines(shared_data, 300)
    assert bulkload.begin(store) is True
    assert set(deferred(store)) == set(before) - unique_ones
    assert set(index_definitions(store)) == unique_ones
    write(store, lines[:150])  # ... and the consumer is killed here: nothing builds them
    assert bulkload.begin(store) is True, "the next consumer continues the load although rows exist"
    write(store, lines[150:], partition=1)
    assert bulkload.finish(store) == len(before) - len(unique_ones)
    assert index_definitions(store) == before
    assert deferred(store) == []
    assert bulkload.finish(store) == 0


def test_a_store_with_rows_is_loaded_with_its_indexes(store: StoreTarget, shared_data: Path) -> None:
    before = index_definitions(store)
    write(store, record_lines(shared_data, 20))
    assert bulkload.begin(store) is False
    assert index_definitions(store) == before
    assert deferred(store) == []


def test_a_disabled_bulk_load_keeps_the_indexes(
    kafka: Any, store: StoreTarget, topic: str, shared_data: Path
) -> None:
    before = index_definitions(store)
    produce(kafka.bootstrap, topic, (contract_message(line) for line in record_lines(shared_data, 50)))
    consumer = StoreConsumer(settings(kafka, topic, bulk_load=False), store)
    consumer.run()
    assert consumer.bulk is False and consumer.bulk_checked
    assert index_definitions(store) == before
