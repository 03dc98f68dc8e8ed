"""Replaying the topic changes nothing: same group again, a fresh group, content re-sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.store.conftest import settings
from tests.store.helpers import contract_message, history_messages, history_rows, produce, record_lines
from workloads.store import StoreTarget
from workloads.store.consumer import StoreConsumer
from workloads.store.db import connect

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def table_state(target: StoreTarget) -> tuple[list[Any], list[Any]]:
    with connect(target) as conn:
        versions = conn.execute(
            "SELECT cve_id, version, sha256, valid_from, valid_to, seq FROM cve_versions ORDER BY cve_id, version"
        ).fetchall()
        current = conn.execute(
            "SELECT cve_id, version, sha256, ingested_at FROM cves ORDER BY cve_id"
        ).fetchall()
    return versions, current


def test_replays_create_no_version(kafka: Any, store: StoreTarget, topic: str, shared_data: Path) -> None:
    messages = list(history_messages(history_rows(shared_data)))
    messages += [contract_message(line) for line in record_lines(shared_data, 3000)]
    produce(kafka.bootstrap, topic, messages)
    first = StoreConsumer(settings(kafka, topic, "group-a", batch_size=250), store).run()
    assert first["consumed"] == len(messages) and first["versions"] > 3000
    before = table_state(store)

    again = StoreConsumer(settings(kafka, topic, "group-a"), store).run()
    assert again["consumed"] == 0, "the same group resumes from the offsets stored in PostgreSQL"

    fresh = StoreConsumer(settings(kafka, topic, "group-b", batch_size=500), store).run()
    assert fresh["consumed"] == len(messages), "a fresh group reads the topic from the beginning"
    assert (fresh["versions"], fresh["replayed"]) == (0, len(messages))
    assert table_state(store) == before

    latest = {m.key: m for m in messages}  # re-sent content equal to each CVE's current one
    produce(kafka.bootstrap, topic, latest.values())
    resent = StoreConsumer(settings(kafka, topic, "group-a"), store).run()
    assert (resent["consumed"], resent["versions"], resent["unchanged"]) == (len(latest), 0, len(latest))
    assert table_state(store)[0] == before[0]
