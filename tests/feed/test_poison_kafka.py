"""A record the broker refuses although the feed accepts it (issue 12): dead-lettered, never lost.

The topics keep the broker's default ``max.message.bytes`` (1 MiB); the record is ~1.5 MB of
noise zstd cannot shrink, under the feed's 4 MiB limit and under a dead-letter value limit
of 2 MiB, so the first letter is refused too and has to be cut further.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cvelist_layout import shared_records
from tests.feed.kafka_io import create_topics, headers, key, read_topic
from workloads.feed.files import FileSource
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import KafkaSettings, RecordProducer

pytestmark = pytest.mark.kafka
LIMIT = 4 * 1024 * 1024


def test_a_record_over_the_topics_limit_but_under_the_feeds_is_dead_lettered(
    kafka: Any, shared_data: Path, tmp_path: Path
) -> None:
    (cve_id, data), *rest = shared_records(shared_data / "cve-records.jsonl.gz", 10, skip=7000)
    doc = json.loads(data)
    doc["containers"]["cna"]["descriptions"][0]["value"] = base64.b64encode(os.urandom(1_100_000)).decode()
    big = json.dumps(doc).encode()
    assert 1_048_588 < len(big) < 2 * 1024 * 1024
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([big, *(d for _, d in rest)]))

    topic, dlq = create_topics(kafka.bootstrap)
    source = FileSource(str(path))
    producer = RecordProducer(
        KafkaSettings(kafka.bootstrap),
        topic,
        dlq,
        source.kind,
        max_record_bytes=LIMIT,
        dlq_value_limit=2 << 20,
    )
    summary = run(source, producer, LIMIT, Progress(interval=3600))
    assert (summary["published"], summary["dead_lettered"], summary["errors"]) == (len(rest), 1, 0)
    assert summary["reasons"] == {"too-large": 1}

    (entry,) = read_topic(kafka.bootstrap, dlq, 1)
    head = headers(entry)
    assert (head["cverag-dlq-reason"], key(entry)) == ("too-large", cve_id)
    assert head["cverag-dlq-truncated"] == str(len(big))
    assert head["cverag-dlq-original-sha256"] == hashlib.sha256(big).hexdigest()
    value = entry.value() or b""
    assert big.startswith(value) and 0 < len(value) < 1_048_588
    assert len(read_topic(kafka.bootstrap, topic, len(rest))) == len(rest)
