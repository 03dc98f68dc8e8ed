"""Chaos in the real pipeline (issue 12): ~1% hostile records among real ones, file -> feed ->
Kafka -> store, the store consumer killed twice (SIGKILL).

Every good record ends in the store exactly once, every bad one in the dead-letter topic with
its reason (the store's letters are at-least-once across a kill, so they are counted by the
position they came from), the counts add up, and every restart begins further on than the
one before.  The figures are printed (``-s``) for the record.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devstack.scratch import create_topic
from tests.feed.kafka_io import headers, read_topic
from tests.store.helpers import record_lines, store_cli
from tests.store.test_crash import applied, kill_when_applied
from tests.support import hostile
from workloads.feed.files import FileSource
from workloads.feed.pipeline import Progress, run
from workloads.feed.producer import KafkaSettings, RecordProducer
from workloads.store import StoreReader, StoreTarget

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
GOOD = 3000
LIMIT = 4 * 1024 * 1024


def hostile_lines() -> list[tuple[bytes, str | None]]:
    """(line, the reason it must be dead-lettered with, or None: it must be stored)."""
    lines: list[tuple[bytes, str | None]] = []
    for n in range(6):
        lines.append((hostile.deep(f"CVE-2099-{1000 + n}", 300 + n), "too-deep"))
        lines.append(
            (hostile.encoded(hostile.record(f"CVE-\uff12\uff10\uff19\uff19-{1100 + n}")), "missing-id")
        )
        lines.append(
            (hostile.encoded(hostile.record(f"CVE-2099-{1200 + n}", "NUL \x00 here")), "invalid-json")
        )
        lines.append((b'{"dataType": "CVE_RECORD", "x": "\xff\xfe"}', "invalid-utf8"))
        lines.append((hostile.future(f"CVE-2099-{1300 + n}"), None))
    for n in range(2):
        lines.append((hostile.unindexable(f"CVE-2099-{1400 + n}"), "too-large"))  # PostgreSQL: 54000
        noise = base64.b64encode(os.urandom(1_200_000)).decode()  # the broker's 1 MiB: refused
        lines.append((hostile.encoded(hostile.record(f"CVE-2099-{1500 + n}", noise)), "too-large"))
    return lines


def test_hostile_records_through_the_real_pipeline_with_two_kills(
    kafka: Any, postgres: Any, store: StoreTarget, shared_data: Path, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("CVERAG_CHAOS_SEED", time.time_ns() % 1_000_000)))
    good = record_lines(shared_data, GOOD)
    bad = hostile_lines()
    mixed: list[bytes] = list(good)
    for line, _ in bad:
        mixed.insert(rng.randrange(len(mixed) + 1), line)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(mixed) + b"\n")

    topic = create_topic(kafka.bootstrap)
    dlq = f"{topic}.dlq"
    source = FileSource(str(path))
    producer = RecordProducer(KafkaSettings(kafka.bootstrap), topic, dlq, source.kind, max_record_bytes=LIMIT)
    fed = run(source, producer, LIMIT, Progress(interval=3600))
    assert fed["read"] == len(mixed) and fed["errors"] == 0, fed

    published = fed["published"]
    starts = []
    for goal in (published // 3, published * 2 // 3):
        starts.append(applied(store))
        kill_when_applied(kafka, postgres.dsn, store, topic, tmp_path / "consumer.log", goal, rng, 300)
    starts.append(applied(store))
    final = store_cli(postgres.dsn, store.schema, "consume", "--bootstrap", kafka.bootstrap, "--topic", topic,
                      "--group", "crashing", "--until-idle", "4")  # fmt: skip
    assert final["_exit"] == 0, final["_stderr"][-2000:]
    assert starts == sorted(set(starts)) and starts[1] > 0, f"restarts began at {starts}: one did not move on"
    assert applied(store) == published

    letters = read_topic(kafka.bootstrap, dlq, len(bad) - 6)
    by_position: dict[str, str] = {}
    from_feed: Counter[str] = Counter()
    for letter in letters:
        head = headers(letter)
        if "cverag-dlq-origin" in head:
            assert (
                by_position.setdefault(head["cverag-dlq-origin"], head["cverag-dlq-reason"])
                == head["cverag-dlq-reason"]
            )
        else:
            from_feed[head["cverag-dlq-reason"]] += 1
    dead = from_feed + Counter(by_position.values())
    expected = Counter(reason for _, reason in bad if reason)
    stored_ids = {json.loads(line)["cveMetadata"]["cveId"] for line in good} | {
        f"CVE-2099-{1300 + n}" for n in range(6)
    }
    with StoreReader(store) as reader:
        versions = reader.conn.execute("SELECT count(*), count(DISTINCT cve_id) FROM cve_versions").fetchone()
        clamped = reader.conn.execute(
            "SELECT count(*) FROM cve_versions WHERE claimed_time IS NOT NULL"
        ).fetchone()
        cves = reader.stats().cves
    figures = {
        "records in": len(mixed),
        "good in": len(stored_ids),
        "hostile in": len(bad),
        "stored": cves,
        "clamped future times": clamped[0] if clamped else None,
        "dead-lettered by the feed": dict(from_feed),
        "dead-lettered by the store": dict(Counter(by_position.values())),
        "store letters re-sent after a kill": len([m for m in letters if "cverag-dlq-origin" in headers(m)])
        - len(by_position),
        "restarts began at": starts,
    }
    print("chaos:", json.dumps(figures))
    assert dead == expected, figures
    assert versions == (len(stored_ids), len(stored_ids)) and cves == len(stored_ids), figures
    assert clamped == (6,), figures
    assert fed["published"] + fed["dead_lettered"] == len(mixed), fed
