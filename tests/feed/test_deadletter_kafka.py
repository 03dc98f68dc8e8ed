"""Bad input through the whole pipeline to a real broker: dead-lettered with reasons, rest proceeds."""

from __future__ import annotations

import base64
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cvelist_layout import record_path, shared_records
from tests.feed.bad_inputs import BadRecord, crafted, invalid_json_versions
from tests.feed.kafka_io import create_topics, headers, key, read_topic
from workloads.feed.files import FileSource
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import KafkaSettings, RecordProducer

pytestmark = pytest.mark.kafka
LIMIT = 4 * 1024 * 1024


def _run(kafka: Any, location: Path) -> tuple[dict[str, Any], str, str]:
    topic, dlq = create_topics(kafka.bootstrap)
    source = FileSource(str(location))
    producer = RecordProducer(KafkaSettings(kafka.bootstrap), topic, dlq, source.kind, max_record_bytes=LIMIT)
    return run(source, producer, LIMIT, Progress(interval=3600)), topic, dlq


def _write(root: Path, path: str, data: bytes) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def test_crafted_bad_records_are_dead_lettered_and_good_ones_published(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    good = list(shared_records(shared_data / "cve-records.jsonl.gz", 50, skip=1000))
    for cve_id, data in good:
        _write(root, record_path(cve_id), data)
    bad: list[BadRecord] = crafted(shared_data) + invalid_json_versions(shared_data)
    for record in bad:
        _write(root, record.path, record.data)

    summary, topic, dlq = _run(kafka, root)
    reasons: dict[str, int] = {}
    for record in bad:
        reasons[record.reason] = reasons.get(record.reason, 0) + 1
    assert (summary["published"], summary["dead_lettered"], summary["errors"]) == (len(good), len(bad), 0)
    assert summary["reasons"] == reasons

    published = read_topic(kafka.bootstrap, topic, len(good))
    assert sorted((key(m), m.value()) for m in published) == sorted(good)
    dead = read_topic(kafka.bootstrap, dlq, len(bad))
    assert len(dead) == len(bad)
    by_value = {m.value(): m for m in dead}
    for record in bad:
        message = by_value[record.data]  # value is the original bytes, unchanged (5 MB of 'x' compresses)
        head = headers(message)
        assert "cverag-dlq-truncated" not in head
        assert head["cverag-dlq-reason"] == record.reason, record.label
        assert head["cverag-dlq-detail"], record.label
        assert (head["cverag-source"], head["cverag-release"]) == ("file", "file:tree")
        assert key(message) == record.claimed_id, record.label


def test_truncated_gzip_publishes_what_precedes_the_damage(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    lines = [data for _, data in shared_records(shared_data / "cve-records.jsonl.gz", 1500)]
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    summary, topic, dlq = _run(kafka, path)
    published = summary["published"]
    assert 0 < published < len(lines)
    assert (summary["dead_lettered"], summary["errors"]) == (1, 1)
    assert summary["reasons"] == {"unreadable-source": 1}
    assert [m.value() for m in read_topic(kafka.bootstrap, topic, published)] != []
    (entry,) = read_topic(kafka.bootstrap, dlq, 1)
    assert headers(entry)["cverag-dlq-reason"] == "unreadable-source"
    assert f"after line {published}" in headers(entry)["cverag-dlq-detail"]
    assert lines[published].startswith(entry.value() or b"")  # the partial line is kept


def test_record_the_broker_refuses_is_dead_lettered_cut_with_its_size(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    (cve_id, data), *rest = shared_records(shared_data / "cve-records.jsonl.gz", 20, skip=5000)
    doc = json.loads(data)
    noise = base64.b64encode(os.urandom(1_500_000)).decode()  # ~2 MB that zstd cannot shrink
    doc["containers"]["cna"]["descriptions"][0]["value"] = noise
    big = json.dumps(doc).encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([big, *(d for _, d in rest)]))

    summary, topic, dlq = _run(kafka, path)
    assert (summary["published"], summary["dead_lettered"], summary["errors"]) == (len(rest), 1, 0)
    assert summary["reasons"] == {"too-large": 1}
    (entry,) = read_topic(kafka.bootstrap, dlq, 1)
    head = headers(entry)
    assert head["cverag-dlq-reason"] == "too-large"
    assert "broker refused" in head["cverag-dlq-detail"]
    assert head["cverag-dlq-truncated"] == str(len(big))
    assert key(entry) == cve_id
    assert big.startswith(entry.value() or b"X") and len(entry.value() or b"") < len(big)
    assert len(read_topic(kafka.bootstrap, topic, len(rest))) == len(rest)
