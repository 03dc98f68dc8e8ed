"""The NVD 2.0 source against the fake NVD API (items wrapped from real records, see tests.fakes.nvd)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.cvelist_layout import shared_records
from tests.fakes.nvd import FakeNvd, nvd_item
from workloads.common.settings import SettingsError
from workloads.feed.fetch import RetryPolicy
from workloads.feed.model import RawRecord, SourceUnavailable
from workloads.feed.nvd import NvdSource, nvd_fetcher, windows
from workloads.feed.settings import FeedSettings

START = datetime(2024, 1, 1, tzinfo=UTC)
QUICK = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_wait=10.0)


@pytest.fixture
def items(shared_data: Path) -> list[dict]:  # type: ignore[type-arg]
    """450 items whose lastModified is spread over 300 days from START (so three windows)."""
    out = []
    for number, (_, data) in enumerate(shared_records(shared_data / "cve-records.jsonl.gz", 450)):
        stamp = START + timedelta(hours=16 * number)
        out.append(nvd_item(json.loads(data), stamp.strftime("%Y-%m-%dT%H:%M:%S.000")))
    return out


def _records(source: NvdSource) -> list[RawRecord]:
    return [i for i in source.items() if isinstance(i, RawRecord)]


def test_windows_never_exceed_120_days() -> None:
    cuts = windows(START, START + timedelta(days=300))
    assert [(b - a).days for a, b in cuts] == [120, 120, 60]
    assert all(cuts[i][1] == cuts[i + 1][0] for i in range(len(cuts) - 1))


def test_incremental_sync_pages_through_each_window(items: list[dict]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items, api_key="k3y", limit=50, window=1.0) as fake:
        until = START + timedelta(days=301)
        source = NvdSource(
            nvd_fetcher("k3y", window=1.0, policy=QUICK), fake.url, START, until, page_size=100
        )
        records = _records(source)
        queries = [r.query for r in fake.requests]
    # windows include both ends (as NVD's do), so an item modified exactly on a boundary comes twice;
    # the store's content hash makes the repeat a no-op
    boundary = {START + timedelta(days=120), START + timedelta(days=240)}
    on_boundary = [
        i for i in items if datetime.fromisoformat(i["cve"]["lastModified"] + "+00:00") in boundary
    ]
    assert on_boundary and len(records) == len(items) + len(on_boundary)
    unique = {r.data: json.loads(r.data) for r in records}
    assert sorted(unique.values(), key=items.index) == items
    assert len({r.release for r in records}) == 3
    assert records[0].release == "nvd:2024-01-01T00:00:00/2024-04-30T00:00:00"
    assert all(int(q["resultsPerPage"]) == 100 for q in queries)
    pages_per_window = [
        -(-sum(1 for r in records if r.release == w) // 100) for w in {r.release for r in records}
    ]
    assert len(queries) == sum(pages_per_window)
    assert {r.headers.get("apikey") for r in fake.requests} == {"k3y"}
    assert source.cursor() == {"window_end": until.isoformat(), "release": records[-1].release}


def test_full_sync_without_cursor(items: list[dict]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items, limit=50, window=1.0) as fake:
        source = NvdSource(
            nvd_fetcher(None, window=1.0, policy=QUICK), fake.base_url + "/rest/json/cves/2.0", None
        )
        records = _records(source)
        assert all("lastModStartDate" not in r.query for r in fake.requests)
        assert "apikey" not in fake.requests[0].headers
    assert len(records) == 450
    assert records[0].release.startswith("nvd:full/")


def test_limiter_keeps_under_the_rolling_window(items: list[dict]) -> None:  # type: ignore[type-arg]
    # the fake enforces 5 per rolling 0.5 s; the keyless limiter allows 5 per 0.5 s as well
    with FakeNvd(items, limit=5, window=0.5) as fake:
        source = NvdSource(nvd_fetcher(None, window=0.5, policy=QUICK), fake.url, None, page_size=20)
        assert len(_records(source)) == 450
        assert fake.throttled == 0
        assert len(fake.requests) == 23


def test_without_the_limiter_nvd_throttles_and_403_is_retried(items: list[dict]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items, limit=3, window=0.3) as fake:
        fetcher = nvd_fetcher(
            None, window=0.001, policy=RetryPolicy(attempts=20, base_delay=0.1, max_delay=0.2)
        )
        assert len(_records(NvdSource(fetcher, fake.url, None, page_size=50))) == 450
        assert fake.throttled > 0
        assert fetcher.retries == fake.throttled


@pytest.mark.parametrize(("status", "headers"), [(429, {"Retry-After": "0"}), (503, {}), (500, {})])
def test_transient_statuses_are_retried(items: list[dict], status: int, headers: dict[str, str]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items, limit=100, window=1.0) as fake:
        fake.faults.fail("api", status, times=2, headers=headers)
        assert len(_records(NvdSource(nvd_fetcher(None, window=0.01, policy=QUICK), fake.url, None))) == 450


def test_truncated_page_is_fetched_again(items: list[dict]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items, limit=100, window=1.0) as fake:
        fake.faults.truncate("api", times=1, fraction=0.5)
        records = _records(
            NvdSource(nvd_fetcher(None, window=0.01, policy=QUICK), fake.url, None, page_size=200)
        )
        assert len(fake.requests) == 4
    assert [json.loads(r.data) for r in records] == items


def test_persistent_outage_is_unavailable(items: list[dict]) -> None:  # type: ignore[type-arg]
    with FakeNvd(items) as fake:
        fake.faults.fail("api", 503, times=QUICK.attempts)
        with pytest.raises(SourceUnavailable, match="HTTP 503"):
            _records(NvdSource(nvd_fetcher(None, window=0.01, policy=QUICK), fake.url, None))


def test_windows_follow_the_configured_width_but_never_exceed_120_days() -> None:
    cuts = windows(START, START + timedelta(days=70), timedelta(days=30))
    assert [(b - a).days for a, b in cuts] == [30, 30, 10]
    wide = windows(START, START + timedelta(days=300), timedelta(days=365))
    assert [(b - a).days for a, b in wide] == [120, 120, 60]


@pytest.mark.parametrize(
    "env",
    [{"CVERAG_NVD_WINDOW_DAYS": "121"}, {"CVERAG_NVD_WINDOW_DAYS": "0"}, {"CVERAG_NVD_PAGE_SIZE": "2001"}],
    ids=lambda e: "=".join(next(iter(e.items()))),
)
def test_settings_beyond_the_apis_limits_are_refused(env: dict[str, str]) -> None:
    """NVD refuses windows over 120 days and pages over 2000; the feed refuses them before asking."""
    with pytest.raises(SettingsError, match=next(iter(env))):
        FeedSettings.from_env(env)
    assert FeedSettings.from_env({}).nvd_window == timedelta(days=120)
