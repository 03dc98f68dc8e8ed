"""Invalid messages go to the dead-letter topic with a reason and never block a partition."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import settings
from tests.store.helpers import Outgoing, contract_message, produce, read_topic, record_lines
from workloads.store import StoreReader, StoreTarget
from workloads.store.consumer import StoreConsumer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def bad_messages(shared_data: Path) -> list[tuple[Outgoing, str]]:
    with gzip.open(shared_data / "cve-history-invalid-json.jsonl.gz") as stream:
        invalid = [json.loads(line) for line in stream]
    good = json.loads(record_lines(shared_data, 1)[0])
    cve = good["cveMetadata"]["cveId"].encode()
    headers = {"cverag-source": "file", "cverag-release": "file:bad"}
    bad = [
        (
            Outgoing(row["path"].rsplit("/", 1)[-1][:-5].encode(), row["raw_text"].encode(), headers),
            "invalid-json",
        )
        for row in invalid
    ]
    return [
        *bad,
        (Outgoing(cve, b"\xc3\x28 not utf-8", headers), "invalid-utf8"),
        (Outgoing(b"CVE-2024-0001", b'{"vulnerabilities": []}', headers), "not-a-cve-record"),
        (Outgoing(None, json.dumps(good).encode(), headers), "id-mismatch"),
        (Outgoing(b"CVE-2000-99999", json.dumps(good).encode(), headers), "id-mismatch"),
        (Outgoing(cve, None, headers), "not-a-cve-record"),
    ]


def test_bad_input_is_dead_lettered_and_the_rest_stored(
    kafka: Any, store: StoreTarget, topic: str, shared_data: Path
) -> None:
    good = [contract_message(line) for line in record_lines(shared_data, 200)]
    bad = bad_messages(shared_data)
    mixed = [*good[:100], *(m for m, _ in bad), *good[100:]]
    produce(kafka.bootstrap, topic, mixed)
    summary = StoreConsumer(settings(kafka, topic, "dlq-group", batch_size=50), store).run()
    assert (summary["consumed"], summary["versions"], summary["dead_lettered"]) == (len(mixed), 200, len(bad))

    letters = read_topic(kafka.bootstrap, f"{topic}.dlq", len(bad))
    assert len(letters) == len(bad)
    by_value = {(m.value(), m.key()): dict(m.headers()) for m in letters}
    for message, reason in bad:
        headers = by_value[(message.value, message.key)]
        assert headers["cverag-dlq-reason"].decode() == reason
        assert headers["cverag-dlq-detail"] and headers["cverag-release"] == b"file:bad"

    again = StoreConsumer(settings(kafka, topic, "dlq-group"), store).run()
    assert again["consumed"] == 0, "dead-lettered positions are committed with the batch"
    with StoreReader(store) as query:
        assert query.stats().cves == 200
