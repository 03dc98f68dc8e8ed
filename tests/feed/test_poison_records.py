"""Poison records at the feed's validation (issue 12): refused with a reason, never raised."""

from __future__ import annotations

import pytest

from tests.support import hostile
from workloads.common.records import MAX_DEPTH
from workloads.feed.model import RawRecord, filename_id
from workloads.feed.validate import Publishable, Rejection, check

LIMIT = 4 * 1024 * 1024


def _raw(data: bytes, path: str | None = None) -> RawRecord:
    return RawRecord(data, path or "test", "file:test", filename_id(path) if path else None)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 2_000, 200_000])
def test_deeply_nested_records_are_too_deep(depth: int) -> None:
    verdict = check(_raw(hostile.deep("CVE-2099-0001", depth)), LIMIT)
    assert isinstance(verdict, Rejection)
    assert (verdict.reason.value, verdict.claimed_id) == ("too-deep", "CVE-2099-0001")
    assert str(MAX_DEPTH) in verdict.detail


def test_nesting_up_to_the_limit_is_fine() -> None:
    # the record's own object is level 1, so MAX_DEPTH - 1 arrays inside it reach the limit exactly
    verdict = check(_raw(hostile.deep("CVE-2099-0001", MAX_DEPTH - 1)), LIMIT)
    assert isinstance(verdict, Publishable)


@pytest.mark.parametrize("lookalike", hostile.LOOKALIKE_IDS)
def test_lookalike_ids_are_refused(lookalike: str) -> None:
    verdict = check(_raw(hostile.encoded(hostile.record(lookalike))), LIMIT)
    assert isinstance(verdict, Rejection) and verdict.reason.value == "missing-id", lookalike


def test_a_filename_with_lookalike_digits_claims_no_id() -> None:
    assert filename_id("cves/2099/1xxx/CVE-\uff12\uff10\uff19\uff19-1009.json") is None
    assert filename_id("cves/2099/1xxx/CVE-2099-1009.json") == "CVE-2099-1009"
