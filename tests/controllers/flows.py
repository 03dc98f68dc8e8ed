"""Steps the operator tests share: a feed on the GitHub fake, its Jobs run for real, a store."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from controllers.api.feed import CveFeed
from controllers.manifests.feed import RELEASE_ANNOTATION, sync_job
from devstack.k8s_jobs import complete_job
from tests.controllers import helpers, pods
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.kube import eventually

DAY = "2024-06-01"
FEED = "cvelist"
STORE = "cves"
SYNC_SELECTOR = "app.kubernetes.io/name=cve-feed-sync"
GITHUB_TOKEN = "ghp_test-token-for-the-fake"


def feed_body(kafka: Any, github: FakeGitHubReleases, topic: str, **spec: Any) -> dict[str, Any]:
    source = {
        "releasesUrl": github.releases_url,
        "githubTokenSecretRef": {"name": "github-token", "key": "token"},
    }
    return {
        "apiVersion": "cverag.io/v1alpha1",
        "kind": "CveFeed",
        "metadata": {"name": FEED},
        "spec": {
            "source": {"cvelistV5": source},
            "pollInterval": "2s",
            "kafka": {"bootstrapServers": kafka.bootstrap, "topic": {"name": topic, "partitions": 3}},
            **spec,
        },
    }


def releases_of_jobs(kube: client.ApiClient, ns: str) -> list[str]:
    return sorted(j.metadata.annotations[RELEASE_ANNOTATION] for j in helpers.jobs(kube, ns, SYNC_SELECTOR))


def job_for(kube: client.ApiClient, ns: str, release: str, attempt: str = "0") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        for job in helpers.jobs(kube, ns, SYNC_SELECTOR):
            notes = job.metadata.annotations
            if notes[RELEASE_ANNOTATION] == release and notes["cverag.io/attempt"] == attempt:
                found: dict[str, Any] = kube.sanitize_for_serialization(job)
                return found
        return None

    try:
        return eventually(probe, f"a sync Job for {release} (attempt {attempt})", attempts=360)
    except AssertionError as exc:  # the feed's conditions usually say why no Job started
        status = (helpers.get(kube, ns, "cvefeeds", FEED) or {}).get("status")
        raise AssertionError(f"{exc}; the feed's status: {json.dumps(status, indent=1)}") from None


def check_pod_spec(
    kube: client.ApiClient, ns: str, job: dict[str, Any], release: str, cursor: str | None
) -> None:
    """The Job is what manifests.feed.sync_job says, field for field (API defaults aside)."""
    feed = CveFeed.from_body(helpers.get(kube, ns, "cvefeeds", FEED))
    expected = sync_job(feed, release, cursor)
    assert job["metadata"]["name"] == expected["metadata"]["name"]
    differences = helpers.contains(expected["spec"], job["spec"]) + helpers.contains(
        expected["metadata"]["labels"], job["metadata"]["labels"]
    )
    assert not differences, differences
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CveFeed", FEED, True)


def run_and_complete(kube: client.ApiClient, ns: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run the Job's container here (the real sync), then report its pod succeeded."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    done = pods.run_container(kube, ns, container)
    assert done.returncode == 0, done.stderr[-3000:]
    complete_job(kube, ns, job["metadata"]["name"])
    return pods.summary(done.stdout)


def wait_cursor(kube: client.ApiClient, ns: str, release: str, published: int) -> dict[str, Any]:
    return helpers.wait_for(
        kube,
        ns,
        "cvefeeds",
        FEED,
        lambda o: (
            o["status"].get("lastRelease") == release and o["status"].get("recordsPublished") == published
        ),
        f"cursor at {release} with {published} records",
    )


def store_body(schema: str, **spec: Any) -> dict[str, Any]:
    """examples/quickstart/20-cvestore.yaml with the test's schema."""
    body = helpers.quickstart("20-cvestore.yaml")
    body["spec"]["postgres"]["schema"] = schema
    body["spec"]["versioning"] = {"keep": "Last", "lastN": 3, "snapshotSchedule": "@daily"}
    body["spec"].update(spec)
    return body


def migration(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = helpers.jobs(kube, ns, "app.kubernetes.io/name=cve-store-migrate")
        return kube.sanitize_for_serialization(found[0]) if found else None

    return eventually(probe, "the migration Job")


def migrate_for_real(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    job = migration(kube, ns)
    done = pods.run_container(kube, ns, job["spec"]["template"]["spec"]["containers"][0])
    assert done.returncode == 0, done.stderr[-3000:]
    complete_job(kube, ns, job["metadata"]["name"])
    return job
