"""Test helpers for the store: a contract-following producer, reading tables back.

The producer here writes exactly what the data-plane contract specifies (key = CVE id,
value = the bytes unchanged, the ``cverag-*`` headers) and, for the history file, the
``cverag-observed-at`` header carrying the commit date.  The big records file goes
through the real feed (``python -m workloads.feed --source file``) instead.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from devstack.scratch import unique
from workloads.common.records import content_hash, cve_id, date_updated, document_kind

REPO = Path(__file__).resolve().parents[2]
Headers = dict[str, str]


@dataclass(frozen=True)
class Outgoing:
    key: bytes | None
    value: bytes | None
    headers: Headers


def contract_message(raw: bytes, release: str = "file:test", observed_at: str | None = None) -> Outgoing:
    """A records-topic message for ``raw`` as workloads.feed would publish it."""
    doc = json.loads(raw)
    kind = document_kind(doc)
    assert kind is not None
    headers = {
        "cverag-source": "file",
        "cverag-sha256": content_hash(doc),
        "cverag-release": release,
        "cverag-kind": kind.value,
    }
    if updated := date_updated(doc):
        headers["cverag-date-updated"] = updated
    if observed_at:
        headers["cverag-observed-at"] = observed_at
    identity = cve_id(doc)
    return Outgoing(identity.encode() if identity else None, raw, headers)


def produce(bootstrap: str, topic: str, messages: Iterable[Outgoing]) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
    count = 0
    for msg in messages:
        while True:
            try:
                producer.produce(topic, msg.value, msg.key, headers=list(msg.headers.items()))
                break
            except BufferError:
                producer.poll(0.2)
        count += 1
        producer.poll(0)
    assert producer.flush(120) == 0, "messages left undelivered"
    return count


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Any]:
    """All messages of ``topic`` (stops once ``expected`` were read or after ``timeout``)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("reader"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    found: list[Any] = []
    import time

    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            found.append(msg)
    consumer.close()
    return found


def history_rows(shared_data: Path) -> list[dict[str, Any]]:
    """The history file in commit order (stable: rows with equal dates keep file order)."""
    with gzip.open(shared_data / "cve-history.jsonl.gz") as stream:
        rows = [json.loads(line) for line in stream]
    from datetime import datetime

    return sorted(rows, key=lambda r: datetime.fromisoformat(r["commit_date"].replace("Z", "+00:00")))


def history_messages(rows: list[dict[str, Any]]) -> Iterator[Outgoing]:
    for row in rows:
        raw = json.dumps(row["record"]).encode()
        yield contract_message(raw, f"history:{row['commit'][:12]}", row["commit_date"])


def record_lines(shared_data: Path, limit: int | None = None) -> list[bytes]:
    lines = []
    with gzip.open(shared_data / "cve-records.jsonl.gz") as stream:
        for line in stream:
            lines.append(line.rstrip(b"\n"))
            if limit is not None and len(lines) >= limit:
                break
    return lines


def store_cli(dsn: str, schema: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """Run ``python -m workloads.store`` and return its summary line."""
    done = subprocess.run(
        [sys.executable, "-m", "workloads.store", "--dsn", dsn, "--schema", schema, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no summary (exit {done.returncode}): {done.stderr[-2000:]}"
    summary: dict[str, Any] = json.loads(lines[-1])
    summary["_exit"] = done.returncode
    summary["_stderr"] = done.stderr
    return summary
