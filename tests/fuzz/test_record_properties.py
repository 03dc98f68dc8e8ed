"""Property-based tests of the record path (issue 12): hostile CVE-shaped JSON never makes
the feed's validation or the store's decoding raise, and valid records round-trip.

Budgets are fixed (``max_examples``) so ``make test`` takes the same time on every run;
inputs differ between runs, and a failure prints the seed that reproduces it.  The counts
tried are printed at the end of the session (``record path: inputs tried``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.record_path import LIMIT, through_record_path
from tests.fuzz.strategies import DOCUMENTS, hostile_bytes
from tests.support.hostile import record
from workloads.common.records import content_hash
from workloads.feed.model import RawRecord
from workloads.feed.validate import Publishable, check
from workloads.store.messages import Incoming, RawMessage, decode


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


@budget(1200)
@given(hostile_bytes())
def test_hostile_records_get_a_verdict_never_an_exception(data: bytes) -> None:
    through_record_path(data, "hypothesis: hostile records")


@budget(400)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_get_a_verdict_never_an_exception(data: bytes) -> None:
    through_record_path(data, "hypothesis: arbitrary bytes")


@budget(600)
@given(DOCUMENTS)
def test_documents_as_upstream_writes_them(doc: Any) -> None:
    through_record_path(json.dumps(doc, indent=2).encode(), "hypothesis: pretty-printed documents")


PLAIN_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
PLAIN = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | PLAIN_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(PLAIN_TEXT, inner, max_size=4),
    max_leaves=30,
)


@budget(500)
@given(
    st.from_regex(r"\ACVE-(19|20)[0-9]{2}-[0-9]{4,7}\Z"),
    PLAIN_TEXT,
    st.dictionaries(st.from_regex(r"\Ax_[a-z]{1,8}\Z"), PLAIN, max_size=3),
)
def test_valid_records_round_trip(cve_id: str, description: str, extensions: dict[str, Any]) -> None:
    doc = {**record(cve_id, description), **extensions}
    data = json.dumps(doc, ensure_ascii=False).encode()
    assert through_record_path(data, "hypothesis: valid records") == "publishable/incoming"
    verdict = check(RawRecord(data, "fuzz", "fuzz:1", None), LIMIT)
    assert isinstance(verdict, Publishable) and verdict.key == cve_id
    result = decode(
        RawMessage("records", 0, 0, cve_id.encode(), data, {"cverag-sha256": verdict.sha256}, None)
    )
    assert isinstance(result, Incoming) and result.hash_header_ok
    assert orjson.loads(result.text) == json.loads(data) and result.sha256 == content_hash(doc)
    assert result.normalised.description == (description.strip() or None)


@budget(12)
@given(st.integers(1, 6 * 1024 * 1024), st.sampled_from(["a", "word ", "\u00e9", "\\u0041"]))
def test_records_of_any_size_get_a_verdict(size: int, unit: str) -> None:
    """Up to 1.5x the feed's 4 MiB limit: refused (too-large) above it, never raised."""
    text = (unit * (size // len(unit) + 1))[:size]
    data = json.dumps(record("CVE-2099-0500", text)).encode()
    outcome = through_record_path(data, "hypothesis: records of any size")
    assert outcome.startswith("too-large/") == (len(data) > LIMIT), outcome
