"""Validation decides per record: publishable with its identity, or a reason and a claimed id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.feed.bad_inputs import crafted, invalid_json_versions, real_records
from workloads.common.records import DocumentKind, content_hash, date_updated
from workloads.feed.model import RawRecord, filename_id
from workloads.feed.validate import Publishable, Rejection, check

LIMIT = 4 * 1024 * 1024


def _raw(data: bytes, path: str | None = None) -> RawRecord:
    return RawRecord(data, path or "test", "file:test", filename_id(path) if path else None)


def test_real_record_is_publishable_with_its_identity(shared_data: Path) -> None:
    data = (shared_data / "example-record-CVE-2024-39875.json").read_bytes()
    verdict = check(_raw(data, "cves/2024/39xxx/CVE-2024-39875.json"), LIMIT)
    assert isinstance(verdict, Publishable)
    doc = json.loads(data)
    assert verdict == Publishable(
        "CVE-2024-39875", content_hash(doc), date_updated(doc), DocumentKind.CVE_RECORD
    )


def test_nvd_item_is_publishable(shared_data: Path) -> None:
    from tests.fakes.nvd import nvd_item

    item = nvd_item(real_records(shared_data, 1)[0])
    verdict = check(_raw(json.dumps(item).encode()), LIMIT)
    assert isinstance(verdict, Publishable)
    assert verdict.kind is DocumentKind.NVD_ITEM
    assert verdict.key == item["cve"]["id"]
    assert verdict.date_updated == item["cve"]["lastModified"]


def test_each_crafted_bad_record_gets_its_reason(shared_data: Path) -> None:
    for bad in crafted(shared_data) + invalid_json_versions(shared_data):
        verdict = check(_raw(bad.data, bad.path), LIMIT)
        assert isinstance(verdict, Rejection), bad.label
        assert (verdict.reason.value, verdict.claimed_id) == (bad.reason, bad.claimed_id), bad.label
        assert verdict.detail


def test_invalid_json_detail_is_the_parser_message(shared_data: Path) -> None:
    import gzip

    with gzip.open(shared_data / "cve-history-invalid-json.jsonl.gz", "rb") as stream:
        expected = [json.loads(line)["parse_error"] for line in stream]
    details = [check(_raw(bad.data, bad.path), LIMIT) for bad in invalid_json_versions(shared_data)]
    assert [d.detail for d in details if isinstance(d, Rejection)] == expected


def test_claimed_id_is_read_from_unparseable_text_when_no_filename_claims_one() -> None:
    verdict = check(_raw(b'{"cveMetadata": {"cveId": "CVE-2020-1234", "x": }'), LIMIT)
    assert isinstance(verdict, Rejection)
    assert (verdict.reason.value, verdict.claimed_id) == ("invalid-json", "CVE-2020-1234")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[1, 2]", "not-a-cve-record"),
        (b'{"dataType": "CVE_RECORD"}', "not-a-cve-record"),
        (b'{"dataType": "CVE_RECORD", "cveMetadata": {"cveId": "not-an-id"}}', "missing-id"),
        (b'{"x": "\\ud800"}', "not-a-cve-record"),
        (
            b'{"dataType": "CVE_RECORD", "cveMetadata": {"cveId": "CVE-2020-1234", "x": "\\ud800"}}',
            "invalid-utf8",
        ),
        (b"", "invalid-json"),
    ],
)
def test_shapes(data: bytes, reason: str) -> None:
    verdict = check(_raw(data), LIMIT)
    assert isinstance(verdict, Rejection)
    assert verdict.reason.value == reason


def test_size_limit_is_configurable(shared_data: Path) -> None:
    data = (shared_data / "example-record-CVE-2024-39875.json").read_bytes()
    assert isinstance(check(_raw(data), len(data)), Publishable)
    small = check(_raw(data), len(data) - 1)
    assert isinstance(small, Rejection) and small.reason.value == "too-large"
    assert small.claimed_id == "CVE-2024-39875"
