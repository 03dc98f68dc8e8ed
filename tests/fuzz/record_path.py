"""The record path as one function with its invariants, shared by the property tests, the
fuzz target and the corpus replay: feed validation, then the store's decoding.

The store decodes what the feed would publish (key and headers of the contract) and, for a
record the feed refuses, the raw bytes anyway, as another producer might send them.  The
invariants: neither side raises; each answers one of its documented verdicts with a
contract reason; a hash is always ``content_hash`` of the parsed record; an id is always an
ASCII, whole CVE id; a stored time never lies beyond now plus the skew; and where both
accept a record they agree on its id and hash.  The only record the feed publishes and the
store refuses is one PostgreSQL's jsonb cannot hold (NaN, Infinity, ``\\u0000``), which the
store calls ``invalid-json``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from workloads.common.records import content_hash
from workloads.feed.contract import Reason
from workloads.feed.model import RawRecord
from workloads.feed.validate import Publishable, Rejection, check
from workloads.store.messages import DEFAULT_FUTURE_SKEW, Incoming, RawMessage, Rejected, decode

LIMIT = 4 * 1024 * 1024
REASONS = {reason.value for reason in Reason}
# Written out here rather than taken from the code under test.
_CVE_ID = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}", re.ASCII)
TRIED: Counter[str] = Counter()
"""Inputs tried per suite, and verdicts: reported at the end of the test session."""


def is_cve_id(value: object) -> bool:
    return isinstance(value, str) and _CVE_ID.fullmatch(value) is not None


def through_record_path(data: bytes, suite: str) -> str:
    """Run ``data`` through the path; returns the verdicts (``feed/store``), raises
    AssertionError when an invariant breaks."""
    TRIED[suite] += 1
    verdict = check(RawRecord(data, "fuzz", "fuzz:1", None), LIMIT)
    headers: dict[str, str] = {}
    if isinstance(verdict, Publishable):
        assert is_cve_id(verdict.key), verdict
        assert verdict.sha256 == content_hash(json.loads(data)), "feed hash differs from content_hash"
        key: str | None = verdict.key
        headers = {"cverag-sha256": verdict.sha256, "cverag-kind": verdict.kind.value}
    else:
        assert isinstance(verdict, Rejection), verdict
        assert verdict.reason.value in REASONS and verdict.detail, verdict
        assert verdict.claimed_id is None or is_cve_id(verdict.claimed_id), verdict
        key = verdict.claimed_id
    result = decode(RawMessage("records", 0, 0, key.encode() if key else None, data, headers, None))
    if isinstance(result, Incoming):
        assert is_cve_id(result.cve_id) and result.cve_id == key
        assert result.sha256 == content_hash(json.loads(result.text)), "store hash differs from content_hash"
        assert result.normalised.cve_id == result.cve_id
        bound = datetime.now(UTC) + DEFAULT_FUTURE_SKEW + timedelta(seconds=5)
        assert result.observed_at <= bound and (result.date_updated is None or result.date_updated <= bound)
        if isinstance(verdict, Publishable):
            assert result.sha256 == verdict.sha256 and result.hash_header_ok
        store = "incoming"
    else:
        assert isinstance(result, Rejected), result
        assert result.reason in REASONS and result.detail, result
        if isinstance(verdict, Publishable):
            assert result.reason == "invalid-json", f"feed published what the store refuses: {result}"
        store = result.reason
    feed = "publishable" if isinstance(verdict, Publishable) else verdict.reason.value
    outcome = f"{feed}/{store}"
    TRIED[f"{suite}: {outcome}"] += 1
    return outcome
