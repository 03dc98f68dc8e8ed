"""The cvelistV5 source against the fake GitHub releases API: listing, planning, streaming."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pytest

from tests.fakes.cvelist_layout import Record, shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.feed.conftest import QUICK
from workloads.feed.cvelist import github_headers, plan, releases_since
from workloads.feed.cvelist_source import CvelistSource
from workloads.feed.fetch import Fetcher
from workloads.feed.model import RawRecord, SourceUnavailable


@pytest.fixture
def records(shared_data: Path) -> Iterator[Record]:
    return shared_records(shared_data / "cve-records.jsonl.gz", 2000)


def _names(assets: list) -> list[str]:  # type: ignore[type-arg]
    return [a.name for a in assets]


def test_plan_catches_up_with_the_fewest_assets(
    github: FakeGitHubReleases, records: Iterator[Record]
) -> None:
    github.add_baseline("2024-01-15", islice(records, 20))
    github.add_release("2024-01-15", 1, islice(records, 2))
    github.add_release("2024-01-15", 2, islice(records, 2))
    github.add_baseline("2024-01-16", islice(records, 20))
    github.add_release("2024-01-16", 1, islice(records, 2))
    fetcher = Fetcher(github_headers(None), QUICK)
    since = {"release": "2024-01-15_delta_CVEs_at_0100Z"}
    newer = releases_since(fetcher, github.releases_url, since)
    assert _names(newer) == [
        "2024-01-15_delta_CVEs_at_0200Z",
        "2024-01-16_all_CVEs_at_midnight",
        "2024-01-16_delta_CVEs_at_0100Z",
    ]
    assert _names(plan(newer, since)) == ["2024-01-16_all_CVEs_at_midnight", "2024-01-16_delta_CVEs_at_0100Z"]
    fresh = releases_since(fetcher, github.releases_url, None)
    assert _names(plan(fresh, None)) == ["2024-01-16_all_CVEs_at_midnight", "2024-01-16_delta_CVEs_at_0100Z"]
    same_day = {"release": "2024-01-16_all_CVEs_at_midnight"}
    assert _names(plan(releases_since(fetcher, github.releases_url, same_day), same_day)) == [
        "2024-01-16_delta_CVEs_at_0100Z"
    ]
    latest = {"release": "2024-01-16_delta_CVEs_at_0100Z"}
    assert releases_since(fetcher, github.releases_url, latest) == []


def test_listing_follows_pages_back_to_the_cursor(
    github: FakeGitHubReleases, records: Iterator[Record]
) -> None:
    days = [f"2024-02-{d:02d}" for d in range(1, 7)]
    for day in days:
        for hour in range(24):
            github.add_release(day, hour, islice(records, 1))
    since = {"release": "2024-02-01_delta_CVEs_at_2200Z"}
    newer = releases_since(Fetcher(policy=QUICK), github.releases_url, since)
    assert len(newer) == 1 + 5 * 24
    assert newer[0].name == "2024-02-01_delta_CVEs_at_2300Z"
    assert [a.order for a in newer] == sorted(a.order for a in newer)
    assert sum(1 for r in github.requests if r.path.endswith("/releases")) >= 2


def test_streams_the_nested_baseline_and_the_delta(
    github: FakeGitHubReleases, records: Iterator[Record]
) -> None:
    baseline = list(islice(records, 300))
    delta = list(islice(records, 25))
    github.add_baseline("2024-01-16", baseline, nested=True)
    github.add_release("2024-01-16", 12, delta)
    source = CvelistSource(Fetcher(policy=QUICK), github.releases_url, None, None)
    items = list(source.items())
    assert all(isinstance(i, RawRecord) for i in items)
    got = [(i.release, i.filename_id, i.data) for i in items if isinstance(i, RawRecord)]
    expected = [("2024-01-16_all_CVEs_at_midnight", cve_id, data) for cve_id, data in baseline]
    expected += [("2024-01-16_delta_CVEs_at_1200Z", cve_id, data) for cve_id, data in delta]
    assert sorted(got) == sorted(expected)
    assert source.cursor() == {
        "release": "2024-01-16_delta_CVEs_at_1200Z",
        "published_at": "2024-01-16T12:05:00Z",
    }
    assert source.notes() == {}


def test_one_named_release_and_its_announced_but_missing_records(
    github: FakeGitHubReleases, records: Iterator[Record]
) -> None:
    github.add_baseline("2024-01-16", islice(records, 5), nested=False)
    name = github.add_release("2024-01-16", 3, islice(records, 4), announce_extra=["CVE-2099-0001"])
    source = CvelistSource(Fetcher(policy=QUICK), github.releases_url, name, None)
    items = list(source.items())
    assert len(items) == 4 and {i.release for i in items} == {name}
    assert source.notes() == {"missing_announced": {name: ["CVE-2099-0001"]}}


def test_unknown_release_is_reported(github: FakeGitHubReleases) -> None:
    source = CvelistSource(Fetcher(policy=QUICK), github.releases_url, "2020-01-01_delta_CVEs_at_0100Z", None)
    with pytest.raises(SourceUnavailable, match="not among the assets"):
        list(source.items())


def test_token_is_sent_as_bearer(tmp_path: Path, records: Iterator[Record]) -> None:
    with FakeGitHubReleases(tmp_path, token="s3cret") as fake:
        fake.add_release("2024-01-16", 1, islice(records, 1))
        with pytest.raises(SourceUnavailable, match="HTTP 401"):
            releases_since(Fetcher(github_headers(None), QUICK), fake.releases_url, None)
        assert len(releases_since(Fetcher(github_headers("s3cret"), QUICK), fake.releases_url, None)) == 1
