"""Poison records at the store's decoding (issue 12): rejected with a reason, never raised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.store.helpers import contract_message
from tests.support import hostile
from workloads.common.records import MAX_DEPTH
from workloads.store.messages import DEFAULT_FUTURE_SKEW, Incoming, RawMessage, Rejected, decode


def raw(value: bytes, key: bytes | None, headers: dict[str, str] | None = None) -> RawMessage:
    return RawMessage("t", 0, 0, key, value, headers or {}, None)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 2_000])
def test_deeply_nested_records_are_too_deep(depth: int) -> None:
    """The reproducer of issue 12 (300 levels) raised TypeError from orjson.dumps."""
    result = decode(raw(hostile.deep("CVE-2099-0001", depth), b"CVE-2099-0001"))
    assert isinstance(result, Rejected) and result.reason == "too-deep" and str(MAX_DEPTH) in result.detail


def test_nesting_deeper_than_the_parser_allows_is_too_deep_as_well() -> None:
    result = decode(raw(hostile.deep("CVE-2099-0001", 200_000), b"CVE-2099-0001"))
    assert isinstance(result, Rejected) and result.reason == "too-deep"


@pytest.mark.parametrize("lookalike", hostile.LOOKALIKE_IDS)
def test_lookalike_ids_are_refused(lookalike: str) -> None:
    result = decode(raw(hostile.encoded(hostile.record(lookalike)), lookalike.encode()))
    assert isinstance(result, Rejected) and result.reason == "missing-id", lookalike


def test_a_future_date_updated_is_clamped_to_now_and_flagged() -> None:
    message = contract_message(hostile.future("CVE-2099-0002"))
    before = datetime.now(UTC)
    result = decode(RawMessage("t", 0, 0, message.key, message.value, message.headers, None))
    assert isinstance(result, Incoming)
    assert before <= result.observed_at <= datetime.now(UTC)
    assert result.date_updated is not None and result.date_updated <= datetime.now(UTC)
    assert result.clamped_from == datetime(2999, 1, 1, tzinfo=UTC)


def test_a_future_observed_at_or_kafka_time_is_clamped_to_now() -> None:
    doc = hostile.encoded(hostile.record("CVE-2099-0003"))
    header = contract_message(doc, observed_at="2999-06-01T00:00:00Z")
    stamp = contract_message(doc)
    for message, stamp_ms in (
        (header, None),
        (stamp, 32_503_680_000_000),
        (stamp, 2**62),
    ):  # 3000-01-01, beyond
        before = datetime.now(UTC)
        result = decode(RawMessage("t", 0, 0, message.key, message.value, message.headers, stamp_ms))
        assert isinstance(result, Incoming)
        assert before <= result.observed_at <= datetime.now(UTC), stamp_ms
        last = result
    assert last.clamped_from is None, "a Kafka time beyond the calendar is no claim"


def test_times_within_the_skew_are_kept_as_they_are() -> None:
    soon = datetime.now(UTC) + DEFAULT_FUTURE_SKEW / 2
    message = contract_message(hostile.future("CVE-2099-0004", soon.isoformat()))
    result = decode(RawMessage("t", 0, 0, message.key, message.value, message.headers, None))
    assert isinstance(result, Incoming)
    assert (result.observed_at, result.clamped_from) == (soon, None)
    assert timedelta(minutes=15) >= DEFAULT_FUTURE_SKEW
