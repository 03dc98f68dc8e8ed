"""Crafted bad records made from real ones, each with the dead-letter reason it must get."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.cvelist_layout import record_path


@dataclass(frozen=True)
class BadRecord:
    label: str
    path: str  # where it sits in a cvelistV5 tree (the file name claims an id)
    data: bytes
    reason: str
    claimed_id: str | None


def real_records(shared_data: Path, count: int) -> list[dict[str, Any]]:
    with gzip.open(shared_data / "cve-records.jsonl.gz", "rb") as stream:
        return [json.loads(next(stream)) for _ in range(count)]


def invalid_json_versions(shared_data: Path) -> list[BadRecord]:
    """The three real historical versions committed as invalid JSON."""
    bad = []
    with gzip.open(shared_data / "cve-history-invalid-json.jsonl.gz", "rb") as stream:
        for number, line in enumerate(stream):
            entry = json.loads(line)
            cve_id = Path(entry["path"]).stem
            path = f"v{number}/{record_path(cve_id)}"
            bad.append(
                BadRecord(f"invalid-json-{number}", path, entry["raw_text"].encode(), "invalid-json", cve_id)
            )
    return bad


def crafted(shared_data: Path) -> list[BadRecord]:
    """One bad record per reason, each at its own path (``six`` only lends its id to a file name)."""
    one, two, three, four, five, six = real_records(shared_data, 6)
    return [_missing_id(one), _wrong_type(two), _id_mismatch(three, six), _too_large(four), _bad_utf8(five)]


def _id(record: dict[str, Any]) -> str:
    return str(record["cveMetadata"]["cveId"])


def _missing_id(record: dict[str, Any]) -> BadRecord:
    record = json.loads(json.dumps(record))
    del record["cveMetadata"]["cveId"]
    # the file is named for no CVE, so nothing claims an id
    return BadRecord(
        "missing-id", "cves/odd/record-without-id.json", json.dumps(record).encode(), "missing-id", None
    )


def _wrong_type(record: dict[str, Any]) -> BadRecord:
    record = {**record, "dataType": "CVE_RECORD_X"}
    return BadRecord(
        "wrong-datatype",
        record_path(_id(record)),
        json.dumps(record).encode(),
        "not-a-cve-record",
        _id(record),
    )


def _id_mismatch(record: dict[str, Any], other: dict[str, Any]) -> BadRecord:
    return BadRecord(
        "id-mismatch", record_path(_id(other)), json.dumps(record).encode(), "id-mismatch", _id(other)
    )


def _too_large(record: dict[str, Any]) -> BadRecord:
    record = json.loads(json.dumps(record))
    record["containers"]["cna"]["descriptions"][0]["value"] = "x" * (5 * 1000 * 1000)
    return BadRecord(
        "five-megabytes", record_path(_id(record)), json.dumps(record).encode(), "too-large", _id(record)
    )


def _bad_utf8(record: dict[str, Any]) -> BadRecord:
    data = json.dumps(record).encode().replace(b'"value": "', b'"value": "\xff\xfe', 1)
    return BadRecord("invalid-utf8", record_path(_id(record)), data, "invalid-utf8", _id(record))
