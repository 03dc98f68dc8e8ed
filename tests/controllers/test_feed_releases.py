"""Release monitoring: one sync Job per new release, proven by running it, and never two.

The GitHub fake serves releases built from the shared data set.  Each Job the operator
creates is compared with ``manifests.feed.sync_job``, then its container command runs here
with the Job's environment (Secrets resolved) against the fake and the real Kafka; only
then is the Job marked complete, and the feed's status must show the cursor and the counts
that the run really produced.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.controllers import helpers, pods
from tests.controllers.flows import (
    DAY,
    FEED,
    GITHUB_TOKEN,
    check_pod_spec,
    feed_body,
    job_for,
    releases_of_jobs,
    run_and_complete,
    wait_cursor,
)
from tests.controllers.operator import Operator
from tests.fakes.cvelist_layout import Record, shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.kube import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.kafka, pytest.mark.slow]
INVALID: Record = ("CVE-2099-0001", b'{"dataType": "CVE_RECORD", "cveMetadata": {"cveId": "CVE-2099-0001"')


@pytest.fixture
def records(shared_data: Path) -> list[Record]:
    return list(shared_records(shared_data / "cve-records.jsonl.gz", limit=60))


def test_each_release_yields_exactly_one_job_that_really_syncs(
    kube: client.ApiClient,
    ns: str,
    kafka: Any,
    github: FakeGitHubReleases,
    topic: str,
    records: list[Record],
    cluster: Any,
) -> None:
    baseline = github.add_baseline(DAY, records[:40])
    delta1 = github.add_release(DAY, 1, [*records[40:50], INVALID])
    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    helpers.create(kube, ns, "cvefeeds", feed_body(kafka, github, topic))

    job = job_for(kube, ns, baseline)
    assert releases_of_jobs(kube, ns) == [baseline]
    check_pod_spec(kube, ns, job, baseline, None)
    assert run_and_complete(kube, ns, job)["published"] == 40
    wait_cursor(kube, ns, baseline, 40)

    job = job_for(kube, ns, delta1)
    check_pod_spec(kube, ns, job, delta1, baseline)
    ran = run_and_complete(kube, ns, job)
    assert (ran["published"], ran["dead_lettered"]) == (10, 1)
    feed = wait_cursor(kube, ns, delta1, 50)
    assert feed["status"]["recordsDeadLettered"] == 1 and feed["status"]["pendingReleases"] == []
    feed = helpers.wait_condition(kube, ns, "cvefeeds", FEED, "Synced", "True", "UpToDate")
    assert helpers.condition(feed, "Ready")["status"] == "True"  # type: ignore[index]
    row = helpers.columns(cluster.kubeconfig, ns, "cvefeeds", wide=True)[0]
    assert (row["RELEASE"], row["RECORDS"], row["DEADLETTERED"], row["REASON"]) == (
        delta1,
        "50",
        "1",
        "UpToDate",
    )

    delta2 = github.add_release(DAY, 2, records[50:60])
    job = job_for(kube, ns, delta2)
    check_pod_spec(kube, ns, job, delta2, delta1)
    assert run_and_complete(kube, ns, job)["published"] == 10
    wait_cursor(kube, ns, delta2, 60)
    assert releases_of_jobs(kube, ns) == sorted([baseline, delta1, delta2])


def ticks_after(operator: Operator, offset: int, count: int) -> None:
    """Wait until the (restarted) operator has examined the feed ``count`` times."""
    eventually(
        lambda: operator.log_since(offset).count("feed_tick' succeeded") >= count,
        f"{count} feed ticks of the restarted operator",
    )


def test_restarting_the_operator_at_any_point_creates_no_duplicate_job(
    kube: client.ApiClient,
    ns: str,
    kafka: Any,
    github: FakeGitHubReleases,
    topic: str,
    records: list[Record],
    operator: Operator,
) -> None:
    baseline = github.add_baseline(DAY, records[:30])
    delta1 = github.add_release(DAY, 1, records[30:40])
    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    helpers.create(kube, ns, "cvefeeds", feed_body(kafka, github, topic))
    try:
        job = job_for(kube, ns, baseline)
        offset = operator.log_size()
        operator.restart()  # killed right after creating the Job
        ticks_after(operator, offset, 3)
        assert releases_of_jobs(kube, ns) == [baseline]

        operator.kill()  # the Job finishes while no operator runs
        assert run_and_complete(kube, ns, job)["published"] == 30
        offset = operator.log_size()
        operator.start()
        job = job_for(kube, ns, delta1)
        ticks_after(operator, offset, 3)
        assert releases_of_jobs(kube, ns) == sorted([baseline, delta1])

        assert run_and_complete(kube, ns, job)["published"] == 10
        operator.restart()  # killed just as the Job completed
        wait_cursor(kube, ns, delta1, 40)

        delta2 = github.add_release(DAY, 2, records[40:50])
        for _ in range(6):  # killed at random moments while it notices the release and starts its Job
            time.sleep(random.uniform(0.0, 2.0))
            operator.restart()
        job = job_for(kube, ns, delta2)
        offset = operator.log_size()
        ticks_after(operator, offset, 3)
        assert releases_of_jobs(kube, ns) == sorted([baseline, delta1, delta2])
        assert run_and_complete(kube, ns, job)["published"] == 10
        wait_cursor(kube, ns, delta2, 50)
    finally:
        if not operator.alive():
            operator.start()


def test_a_failed_job_is_retried_with_backoff_and_shown(
    kube: client.ApiClient, ns: str, kafka: Any, github: FakeGitHubReleases, topic: str, records: list[Record]
) -> None:
    baseline = github.add_baseline(DAY, records[:20])
    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    helpers.create(kube, ns, "cvefeeds", feed_body(kafka, github, topic, job={"backoffLimit": 0}))
    first = job_for(kube, ns, baseline)
    pods.fail_job(kube, ns, first["metadata"]["name"])
    feed = helpers.wait_condition(kube, ns, "cvefeeds", FEED, "Synced", "False", "SyncJobFailed")
    assert first["metadata"]["name"] in helpers.condition(feed, "Synced")["message"]  # type: ignore[index]
    assert helpers.condition(feed, "Ready")["reason"] == "SyncJobFailed"  # type: ignore[index]
    assert feed["status"]["failedAttempts"] == 1

    retry = job_for(kube, ns, baseline, attempt="1")
    assert retry["metadata"]["name"] == first["metadata"]["name"] + "-1"
    helpers.wait_for(
        kube,
        ns,
        "cvefeeds",
        FEED,
        lambda o: (
            o["status"].get("activeJob") == retry["metadata"]["name"]
            and o["status"].get("failedAttempts") == 1
        ),
        "the retry running, the failure still counted",
    )
    assert run_and_complete(kube, ns, retry)["published"] == 20
    feed = wait_cursor(kube, ns, baseline, 20)
    helpers.wait_condition(kube, ns, "cvefeeds", FEED, "Ready", "True")
    assert releases_of_jobs(kube, ns) == [baseline, baseline]  # the failed attempt is kept for its logs


def test_suspend_stops_new_jobs(
    kube: client.ApiClient, ns: str, kafka: Any, github: FakeGitHubReleases, topic: str, records: list[Record]
) -> None:
    baseline = github.add_baseline(DAY, records[:10])
    delta1 = github.add_release(DAY, 3, records[10:15])
    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    helpers.create(kube, ns, "cvefeeds", feed_body(kafka, github, topic, suspend=True))
    feed = helpers.wait_condition(kube, ns, "cvefeeds", FEED, "Synced", "False", "Suspended")
    assert feed["status"]["pendingReleases"] == [baseline, delta1]
    assert helpers.condition(feed, "Ready")["status"] == "True"  # type: ignore[index]
    assert releases_of_jobs(kube, ns) == []
    helpers.patch_spec(kube, ns, "cvefeeds", FEED, {"suspend": False})
    job_for(kube, ns, baseline)
    assert releases_of_jobs(kube, ns) == [baseline]


def test_source_problems_are_named(
    kube: client.ApiClient, ns: str, kafka: Any, github: FakeGitHubReleases, topic: str, records: list[Record]
) -> None:
    baseline = github.add_baseline(DAY, records[:10])
    github.rate_limit(0, 3600)
    helpers.create(kube, ns, "cvefeeds", feed_body(kafka, github, topic))
    feed = helpers.wait_condition(kube, ns, "cvefeeds", FEED, "SourceReachable", "False", "SecretNotFound")
    assert "'github-token'" in helpers.condition(feed, "SourceReachable")["message"]  # type: ignore[index]

    helpers.secret(kube, ns, "github-token", {"token": GITHUB_TOKEN})
    feed = helpers.wait_condition(kube, ns, "cvefeeds", FEED, "Ready", "False", "SourceRateLimited")
    assert releases_of_jobs(kube, ns) == []

    github.rate_limit(100, 0)  # the window resets
    helpers.wait_condition(kube, ns, "cvefeeds", FEED, "SourceReachable", "True")
    job_for(kube, ns, baseline)
