"""Producing real records to a real broker and reading them back byte for byte."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cvelist_layout import shared_records
from tests.feed.kafka_io import create_topics, headers, key, read_topic
from workloads.common.records import content_hash, date_updated
from workloads.feed.files import FileSource
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import KafkaSettings, RecordProducer

pytestmark = pytest.mark.kafka
COUNT = 3000


def test_records_arrive_unchanged_with_contract_headers(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    records = list(shared_records(shared_data / "cve-records.jsonl.gz", COUNT, skip=20_000))
    source_file = tmp_path / "slice.jsonl.gz"
    source_file.write_bytes(gzip.compress(b"\n".join(data for _, data in records) + b"\n"))
    topic, dlq = create_topics(kafka.bootstrap)
    source = FileSource(str(source_file))
    producer = RecordProducer(KafkaSettings(kafka.bootstrap), topic, dlq, source.kind)
    summary = run(source, producer, 4 * 1024 * 1024, Progress(interval=3600))
    assert (summary["published"], summary["dead_lettered"], summary["errors"]) == (COUNT, 0, 0)
    assert summary["cursor"] == {"release": "file:slice.jsonl.gz"}

    messages = read_topic(kafka.bootstrap, topic, COUNT)
    assert len(messages) == COUNT
    by_id = {key(m): m for m in messages}
    assert len(by_id) == COUNT
    for cve_id, data in records:
        message = by_id[cve_id]
        assert message.value() == data
        doc = json.loads(data)
        expected = {
            "cverag-source": "file",
            "cverag-sha256": content_hash(doc),
            "cverag-release": "file:slice.jsonl.gz",
            "cverag-kind": "cve5",
            "cverag-date-updated": date_updated(doc),
        }
        assert headers(message) == {k: v for k, v in expected.items() if v is not None}
    assert read_topic(kafka.bootstrap, dlq, 0, idle=1.0) == []


def test_same_cve_always_lands_on_the_same_partition(kafka: Any, shared_data: Path, tmp_path: Path) -> None:
    versions = []
    with gzip.open(shared_data / "cve-history.jsonl.gz", "rb") as stream:
        for line in stream:
            versions.append(json.dumps(json.loads(line)["record"]).encode())
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(versions))
    topic, dlq = create_topics(kafka.bootstrap, partitions=6)
    source = FileSource(str(path))
    summary = run(
        source, RecordProducer(KafkaSettings(kafka.bootstrap), topic, dlq, source.kind), 4 << 20, Progress()
    )
    assert summary["published"] == len(versions)
    messages = read_topic(kafka.bootstrap, topic, len(versions))
    partitions: dict[str | None, set[int]] = {}
    order: dict[str | None, list[bytes]] = {}
    for message in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        partitions.setdefault(key(message), set()).add(message.partition() or 0)
        order.setdefault(key(message), []).append(message.value() or b"")
    assert len(partitions) == 166
    assert all(len(p) == 1 for p in partitions.values())
    # per CVE, the versions arrive in the order the source listed them
    expected: dict[str | None, list[bytes]] = {}
    for version in versions:
        expected.setdefault(json.loads(version)["cveMetadata"]["cveId"], []).append(version)
    assert order == expected
