"""The versioning rules on their own (no services): what becomes a version, numbers, validity."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.store.helpers import contract_message
from workloads.common.records import DocumentKind
from workloads.store.messages import Incoming, RawMessage, decode
from workloads.store.versioning import Current, plan

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def record(
    description: str, updated: str = "2024-06-01T00:00:00Z", state: str = "PUBLISHED"
) -> dict[str, Any]:
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {"cveId": "CVE-2024-1000", "state": state, "dateUpdated": updated},
        "containers": {"cna": {"descriptions": [{"lang": "en", "value": description}]}},
    }


def incoming(doc: dict[str, Any], offset: int, observed: datetime | None = None) -> Incoming:
    import json

    out = contract_message(json.dumps(doc).encode(), observed_at=observed.isoformat() if observed else None)
    decoded = decode(RawMessage("t", 0, offset, out.key, out.value, out.headers, 1_700_000_000_000))
    assert isinstance(decoded, Incoming)
    return decoded


def test_identical_content_is_no_version_and_flip_backs_are() -> None:
    a, b = record("first"), record("second")
    batch = [incoming(d, i, T0 + timedelta(days=i)) for i, d in enumerate([a, a, b, b, a, copy.deepcopy(a)])]
    result = plan(batch, {})
    assert [v.version for v in result.versions] == [1, 2, 3]
    assert [v.incoming.raw.offset for v in result.versions] == [0, 2, 4]
    assert result.unchanged == 3
    assert [v.valid_to for v in result.versions] == [T0 + timedelta(days=2), T0 + timedelta(days=4), None]
    assert result.current["CVE-2024-1000"].version == 3 and not result.closed


def test_continues_from_the_stored_current_version() -> None:
    a, b = incoming(record("first"), 7, T0), incoming(record("second"), 8, T0 + timedelta(hours=1))
    stored = Current(4, a.sha256, DocumentKind.CVE_RECORD, a.date_updated, T0 - timedelta(days=1), a.text)
    result = plan([a, b], {"CVE-2024-1000": stored})
    assert result.unchanged == 1 and [v.version for v in result.versions] == [5]
    assert result.closed == {"CVE-2024-1000": (4, T0 + timedelta(hours=1))}
    assert "description" in result.versions[0].changes
    assert result.versions[0].diff == [
        {"op": "replace", "path": "/containers/cna/descriptions/0/value", "old": "first", "new": "second"}
    ]


def test_older_date_updated_is_flagged_but_still_current() -> None:
    new = incoming(record("new", "2024-06-05T00:00:00Z"), 0)
    old = incoming(record("old", "2024-06-01T00:00:00Z"), 1)
    result = plan([new, old], {})
    assert [v.out_of_order for v in result.versions] == [False, True]
    first, second = result.versions
    assert second.valid_from == first.valid_from, "validity never runs backwards"
    assert first.valid_to == second.valid_from and second.valid_to is None
    assert result.current["CVE-2024-1000"] is second


def test_rejection_is_a_version_with_a_state_change() -> None:
    live = incoming(record("x"), 0, T0)
    gone = incoming(record("x", state="REJECTED"), 1, T0 + timedelta(days=1))
    result = plan([live, gone], {})
    assert [v.incoming.normalised.state for v in result.versions] == ["PUBLISHED", "REJECTED"]
    assert result.versions[1].changes == ["state"]


def test_observed_at_falls_back_to_date_updated_then_kafka_time() -> None:
    by_header = incoming(record("a"), 0, T0)
    assert by_header.observed_at == T0
    by_date = incoming(record("a", "2023-01-02T03:04:05Z"), 0)
    assert by_date.observed_at == datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    doc = record("a")
    del doc["cveMetadata"]["dateUpdated"]
    assert incoming(doc, 0).observed_at == datetime.fromtimestamp(1_700_000_000, UTC)
