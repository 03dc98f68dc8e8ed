"""What the operator decides without a cluster: which releases come next, what the store's
pods are given, and how a spec maps onto names and CronJobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controllers.api.feed import CveFeed
from controllers.api.store import CveStore
from controllers.api.times import seconds as _seconds
from controllers.dataplane import releases
from controllers.manifests.store import consumer_deployment, migration_job
from controllers.manifests.store_policies import prune_cronjob, snapshot_cronjob
from tests.controllers.flows import DAY
from tests.fakes.cvelist_layout import Record, shared_records
from tests.fakes.github_releases import FakeGitHubReleases

FEED: dict[str, Any] = {
    "metadata": {"name": "cvelist", "namespace": "team"},
    "spec": {
        "source": {"cvelistV5": {}},
        "kafka": {"bootstrapServers": "kafka:9092", "topic": {"name": "cves"}},
    },
}


def feed_on(github: FakeGitHubReleases, include_baseline: bool = True) -> CveFeed:
    body = {**FEED, "spec": {**FEED["spec"], "source": {"cvelistV5": {"releasesUrl": github.releases_url}}}}
    body["spec"]["source"]["cvelistV5"]["includeBaseline"] = include_baseline
    parsed: CveFeed = CveFeed.from_body(body)
    return parsed


def store(**spec: Any) -> CveStore:
    postgres = spec.pop("postgres", {"dsnSecretRef": {"name": "pg", "key": "dsn"}})
    parsed: CveStore = CveStore.from_body(
        {
            "metadata": {"name": "cves", "namespace": "team"},
            "spec": {"feedRef": {"name": "cvelist"}, "postgres": postgres, **spec},
        }
    )
    return parsed


@pytest.fixture
def records(shared_data: Path) -> list[Record]:
    return list(shared_records(shared_data / "cve-records.jsonl.gz", limit=12))


def test_next_releases_follow_the_feeds_plan(open_github: FakeGitHubReleases, records: list[Record]) -> None:
    baseline = open_github.add_baseline(DAY, records[:6])
    open_github.add_release(DAY, 1, records[6:8])
    delta2 = open_github.add_release(DAY, 2, records[8:10])
    assert releases.pending_releases(feed_on(open_github), None, None, None) == [baseline, delta2]
    assert releases.pending_releases(feed_on(open_github, include_baseline=False), None, None, None) == [
        delta2
    ]
    assert releases.pending_releases(feed_on(open_github), baseline, None, None) == [delta2]
    assert releases.pending_releases(feed_on(open_github), delta2, None, None) == []


def test_source_errors_carry_a_reason(github: FakeGitHubReleases, records: list[Record]) -> None:
    github.add_baseline(DAY, records[:2])
    with pytest.raises(releases.SourceError) as unauthorized:
        releases.pending_releases(feed_on(github), None, "wrong-token", None)
    assert unauthorized.value.reason == "SourceUnauthorized"
    github.rate_limit(0, 3600)
    with pytest.raises(releases.SourceError) as limited:
        releases.pending_releases(feed_on(github), None, github.token, None)
    assert limited.value.reason == "SourceRateLimited"


def test_poll_intervals_are_read_like_go_durations() -> None:
    assert [_seconds(d) for d in ("15m", "1h30m", "500ms", "2s")] == [900, 5400, 0.5, 2]


def test_store_pods_get_credentials_only_from_secrets() -> None:
    feed = CveFeed.from_body(FEED)
    by_host = store(postgres={"host": "db", "credentialsSecretRef": {"name": "pg-creds"}})
    for subject in (store(), by_host):
        env = consumer_deployment(subject, feed)["spec"]["template"]["spec"]["containers"][0]["env"]
        secret_vars = {e["name"] for e in env if "valueFrom" in e}
        assert {e["name"] for e in env if "value" in e}.isdisjoint({"CVERAG_PG_DSN", "PGUSER", "PGPASSWORD"})
        assert secret_vars in ({"CVERAG_PG_DSN"}, {"PGUSER", "PGPASSWORD"})


def test_the_consumer_leaves_replicas_to_the_autoscaler_and_spreads_over_zones() -> None:
    spec = consumer_deployment(store(), CveFeed.from_body(FEED))["spec"]
    assert "replicas" not in spec
    zone = spec["template"]["spec"]["topologySpreadConstraints"][0]
    assert (zone["topologyKey"], zone["maxSkew"], zone["whenUnsatisfiable"]) == (
        "topology.kubernetes.io/zone",
        1,
        "DoNotSchedule",
    )


def test_migration_job_name_changes_only_with_what_it_runs() -> None:
    feed = CveFeed.from_body(FEED)
    name = migration_job(store(), feed)["metadata"]["name"]
    assert migration_job(store(consumer={"minReplicas": 2}), feed)["metadata"]["name"] == name
    other = store(postgres={"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": "other"})
    assert migration_job(other, feed)["metadata"]["name"] != name


def test_versioning_cronjobs_follow_the_spec() -> None:
    assert prune_cronjob(store()) is None and snapshot_cronjob(store()) is None
    last = prune_cronjob(store(versioning={"keep": "Last", "lastN": 3, "retainDays": 30}))
    assert last is not None
    command = last["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-4:] == ["--keep", "3", "--retain-days", "30"]
    snapshots = snapshot_cronjob(store(versioning={"snapshotSchedule": "@daily"}))
    assert snapshots is not None and snapshots["spec"]["schedule"] == "@daily"


def test_an_nvd_feed_syncs_one_window_from_its_cursor_to_now() -> None:
    nvd = {**FEED["spec"], "source": {"nvd": {"url": "http://nvd.invalid/rest/json/cves/2.0"}}}
    feed = CveFeed.from_body({**FEED, "spec": {**nvd, "since": "2024-01-01T00:00:00Z"}})
    (first,) = releases.pending_releases(feed, None, None, None)  # many 120-day windows, one Job
    assert first.startswith("nvd:2024-01-01T00:00:00/")
    synced = "nvd:2024-01-01T00:00:00/2025-01-01T00:00:00"
    (second,) = releases.pending_releases(feed, synced, None, None)
    assert second.startswith("nvd:2025-01-01T00:00:00/")  # resumes where the last window ended
