"""Validation of consumed messages: every kind of bad input gets its contract reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.store.helpers import contract_message
from workloads.store.messages import Incoming, RawMessage, Rejected, decode

GOOD = {
    "dataType": "CVE_RECORD",
    "cveMetadata": {"cveId": "CVE-2024-2000", "state": "PUBLISHED"},
    "containers": {"cna": {}},
}


def raw(
    value: bytes | None, key: bytes | None = b"CVE-2024-2000", headers: dict[str, str] | None = None
) -> RawMessage:
    return RawMessage("t", 0, 0, key, value, headers or {}, None)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (raw(None), "not-a-cve-record"),
        (raw(b"\xff\xfe{}"), "invalid-utf8"),
        (raw(b'{"dataType": "CVE_RECORD",'), "invalid-json"),
        (raw(b'{"a": NaN}'), "invalid-json"),
        (raw(b'{"a": "\\ud800"}'), "invalid-json"),
        (raw(json.dumps({**GOOD, "x": "nul\u0000"}).encode()), "invalid-json"),
        (raw(b'{"hello": "world"}'), "not-a-cve-record"),
        (raw(json.dumps({**GOOD, "cveMetadata": {"state": "PUBLISHED"}}).encode()), "missing-id"),
        (raw(json.dumps({**GOOD, "cveMetadata": {"cveId": "GHSA-1234"}}).encode()), "missing-id"),
        (raw(json.dumps(GOOD).encode(), key=None), "id-mismatch"),
        (raw(json.dumps(GOOD).encode(), key=b"CVE-2024-9999"), "id-mismatch"),
    ],
)
def test_rejections(message: RawMessage, reason: str) -> None:
    result = decode(message)
    assert isinstance(result, Rejected) and result.reason == reason and result.detail


def test_real_invalid_json_from_history_is_rejected(shared_data: Path) -> None:
    with gzip.open(shared_data / "cve-history-invalid-json.jsonl.gz") as stream:
        rows = [json.loads(line) for line in stream]
    for row in rows:
        key = row["path"].rsplit("/", 1)[-1].removesuffix(".json").encode()
        result = decode(raw(row["raw_text"].encode(), key=key))
        assert isinstance(result, Rejected) and result.reason == "invalid-json"


def test_escaped_backslash_before_u0000_is_fine() -> None:
    result = decode(raw(json.dumps({**GOOD, "x": "\\u0000"}).encode()))
    assert isinstance(result, Incoming)


def test_hash_header_is_checked_not_trusted() -> None:
    good = contract_message(json.dumps(GOOD).encode())
    result = decode(raw(good.value, headers=good.headers))
    assert isinstance(result, Incoming) and result.hash_header_ok
    assert result.sha256 == good.headers["cverag-sha256"]
    lying = decode(raw(good.value, headers={**good.headers, "cverag-sha256": "0" * 64}))
    assert isinstance(lying, Incoming) and not lying.hash_header_ok
    assert lying.sha256 == good.headers["cverag-sha256"], "the computed hash wins"
    missing = decode(raw(good.value))
    assert isinstance(missing, Incoming) and missing.sha256 == good.headers["cverag-sha256"]


def test_exotic_numbers_hash_like_the_feed() -> None:
    doc = {**GOOD, "big": 12345678901234567890123, "small": 1e-7, "wide": 1e22}
    expected = contract_message(json.dumps(doc).encode())
    result = decode(raw(expected.value, headers=expected.headers))
    assert isinstance(result, Incoming) and result.sha256 == expected.headers["cverag-sha256"]


def test_nvd_items_are_accepted_with_their_kind() -> None:
    from tests.store.test_normalise import nvd_item

    item = contract_message(json.dumps(nvd_item()).encode())
    result = decode(raw(item.value, key=item.key, headers=item.headers))
    assert isinstance(result, Incoming) and result.kind.value == "nvd2" and result.hash_header_ok
    assert result.normalised.cvss["v31"].score == 10.0
    assert result.observed_at.isoformat().startswith("2024-04-03T17:15:00")
