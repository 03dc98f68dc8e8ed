"""Retries, backoff and rate limits through the real httpx path against the fake GitHub API."""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path

import pytest

from tests.fakes.cvelist_layout import shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.feed.conftest import QUICK
from workloads.feed.cvelist import releases_since
from workloads.feed.cvelist_source import CvelistSource
from workloads.feed.fetch import Fetcher, RetryPolicy
from workloads.feed.model import RawRecord, SourceUnavailable


class Sleeps(list[float]):
    """Records requested waits instead of sleeping (the waits themselves are what is checked)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def one_release(github: FakeGitHubReleases, shared_data: Path) -> FakeGitHubReleases:
    records = shared_records(shared_data / "cve-records.jsonl.gz", 200)
    github.add_baseline("2024-01-16", islice(records, 150))
    github.add_release("2024-01-16", 12, islice(records, 50))
    return github


def _sync(fake: FakeGitHubReleases, fetcher: Fetcher) -> list[RawRecord]:
    items = list(CvelistSource(fetcher, fake.releases_url, None, None).items())
    return [i for i in items if isinstance(i, RawRecord)]


def test_429_storm_honours_retry_after(one_release: FakeGitHubReleases) -> None:
    one_release.faults.fail("api", 429, times=3, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    assert len(_sync(one_release, Fetcher(policy=QUICK, sleep=sleeps))) == 200
    assert sleeps == [7.0, 7.0, 7.0]


def test_503s_are_retried_with_growing_backoff(one_release: FakeGitHubReleases) -> None:
    one_release.faults.fail("download", 503, times=3)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=100.0)
    assert len(_sync(one_release, Fetcher(policy=policy, sleep=sleeps))) == 200
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps) and 0.75 <= sleeps[0] <= 1.0 and 3.0 <= sleeps[2] <= 4.0


def test_a_truncated_zip_download_is_fetched_again(one_release: FakeGitHubReleases) -> None:
    one_release.faults.truncate("download", times=2, fraction=0.6)
    assert len(_sync(one_release, Fetcher(policy=QUICK))) == 200
    downloads = [r for r in one_release.requests if r.path.startswith("/objects/")]
    assert len(downloads) == 4  # baseline twice cut + once whole, then the delta


def test_a_download_that_stays_truncated_fails_clearly(one_release: FakeGitHubReleases) -> None:
    one_release.faults.truncate("download", times=QUICK.attempts, fraction=0.6)
    with pytest.raises(
        SourceUnavailable, match=r"2024-01-16_all_CVEs_at_midnight\.zip still failing after 4"
    ):
        _sync(one_release, Fetcher(policy=QUICK))


def test_server_that_sends_short_content_length_is_caught_by_the_size_check(
    one_release: FakeGitHubReleases,
) -> None:
    # a proxy that cuts the body *and* the Content-Length: only the asset size reveals it
    real_route = one_release.route

    def short(request):  # type: ignore[no-untyped-def]
        response = real_route(request)
        if response.file is not None and one_release.faults.pending() == 0 and not short.done:  # type: ignore[attr-defined]
            short.done = True  # type: ignore[attr-defined]
            response.body, response.file = response.file.read_bytes()[:1000], None
        return response

    short.done = False  # type: ignore[attr-defined]
    one_release.route = short  # type: ignore[method-assign]
    assert len(_sync(one_release, Fetcher(policy=QUICK))) == 200
    assert short.done  # type: ignore[attr-defined]
    assert len([r for r in one_release.requests if r.path.startswith("/objects/")]) == 3


def test_exhausted_rate_limit_waits_for_the_reset_instead_of_failing(one_release: FakeGitHubReleases) -> None:
    one_release.rate_limit(budget=1, reset_after=1.0)
    started = time.time()
    fetcher = Fetcher(policy=QUICK)
    releases_since(fetcher, one_release.releases_url, None)  # spends the budget: remaining 0
    releases_since(fetcher, one_release.releases_url, None)  # must wait for the reset, not get a 403
    assert time.time() - started >= 1.0
    statuses = [r for r in one_release.requests if r.path.endswith("/releases")]
    assert len(statuses) == 2


def test_403_rate_limited_is_retried_after_reset(one_release: FakeGitHubReleases) -> None:
    reset = str(int(time.time()) + 1)
    one_release.faults.fail(
        "api", 403, times=1, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    )
    assert len(releases_since(Fetcher(policy=QUICK), one_release.releases_url, None)) == 2


def test_plain_403_is_not_retried(one_release: FakeGitHubReleases) -> None:
    one_release.faults.fail("api", 403, times=1)
    with pytest.raises(SourceUnavailable, match="HTTP 403"):
        releases_since(Fetcher(policy=QUICK), one_release.releases_url, None)


def test_wait_longer_than_allowed_gives_up(one_release: FakeGitHubReleases) -> None:
    one_release.faults.fail("api", 429, times=1, headers={"Retry-After": "3600"})
    with pytest.raises(SourceUnavailable, match="asked to wait 3600s"):
        releases_since(Fetcher(policy=QUICK, sleep=Sleeps()), one_release.releases_url, None)


def test_unreachable_host_fails_after_retries() -> None:
    from devstack.proc import free_port

    url = f"http://127.0.0.1:{free_port()}/repos/CVEProject/cvelistV5/releases"
    with pytest.raises(SourceUnavailable, match="ConnectError"):
        releases_since(Fetcher(policy=QUICK), url, None)
