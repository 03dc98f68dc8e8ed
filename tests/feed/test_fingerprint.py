"""The fast content hash must equal the shared one (the store relies on that agreement)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from workloads.common.records import content_hash
from workloads.feed.fingerprint import NotJson, fingerprint, parse


def _hash(data: bytes) -> str:
    doc, fast = parse(data)
    return fingerprint(data, doc, fast)


@pytest.mark.slow
def test_equals_shared_hash_on_every_shared_record(shared_data: Path) -> None:
    checked = 0
    with gzip.open(shared_data / "cve-records.jsonl.gz", "rb") as stream:
        for line in stream:
            assert _hash(line) == content_hash(json.loads(line)), line[:120]
            checked += 1
    assert checked == 62_928


def test_equals_shared_hash_on_history_versions(shared_data: Path) -> None:
    with gzip.open(shared_data / "cve-history.jsonl.gz", "rb") as stream:
        for line in stream:
            record = json.dumps(json.loads(line)["record"], indent=2, ensure_ascii=False).encode()
            assert _hash(record) == content_hash(json.loads(record))


@pytest.mark.parametrize(
    "text",
    [
        '{"score": 1e-05, "big": 1e16}',
        '{"tiny": 0.00001234, "exp": 1.5E-7}',
        '{"huge": 123456789012345678901234567890, "neg": -9223372036854775809}',
        '{"u64": 18446744073709551615, "f": 7.5, "z": -0.0}',
        '{"nan": NaN, "inf": Infinity}',
        '{"ctl": "a\\u0001b\\u007f\\u2028", "emoji": "\\ud83d\\ude00", "b": "é"}',
        '{"dup": 1, "dup": 2, "nested": [{"b": 1, "a": [0.5, 2e-3]}]}',
        '{"string_looks_like_float": "1e5 and 0.00001"}',
    ],
)
def test_equals_shared_hash_on_edge_cases(text: str) -> None:
    data = text.encode()
    assert _hash(data) == content_hash(json.loads(data))


def test_lone_surrogate_has_no_canonical_form() -> None:
    data = b'{"x": "\\ud800"}'
    doc, fast = parse(data)
    with pytest.raises(UnicodeEncodeError):
        fingerprint(data, doc, fast)


def test_parse_errors_use_the_standard_library_message() -> None:
    with pytest.raises(NotJson, match="Expecting ',' delimiter"):
        parse(b'{"a": 1 "b": 2}')
    with pytest.raises(UnicodeDecodeError):
        parse(b'{"a": "\xff"}')
