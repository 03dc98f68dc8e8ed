"""Optional integrations, each test with its CRD installed under a cross-session lock:
Strimzi KafkaTopics instead of the admin API, and a KEDA ScaledObject instead of the HPA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.controllers import helpers
from tests.controllers.flows import FEED, STORE, migrate_for_real, store_body
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.kube import eventually, install_crds

pytestmark = [pytest.mark.cluster]
CRDS = Path(__file__).with_name("crds")


@pytest.fixture
def strimzi(kube: client.ApiClient) -> Iterator[None]:
    yield from _installed(kube, "strimzi-kafkatopic.yaml", "kafkatopics.kafka.strimzi.io")


@pytest.fixture
def keda(kube: client.ApiClient) -> Iterator[None]:
    yield from _installed(kube, "keda-scaledobject.yaml", "scaledobjects.keda.sh")


def _installed(kube: client.ApiClient, file: str, name: str) -> Iterator[None]:
    with helpers.optional_crds(exclusive=True):
        install_crds(kube, [CRDS / file])
        yield
        client.ApiextensionsV1Api(kube).delete_custom_resource_definition(name)
        eventually(lambda: not _crd_exists(kube, name), f"CRD {name} gone")


def _crd_exists(kube: client.ApiClient, name: str) -> bool:
    try:
        client.ApiextensionsV1Api(kube).read_custom_resource_definition(name)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def kafka_topics(kube: client.ApiClient, ns: str) -> dict[str, dict[str, Any]]:
    found = client.CustomObjectsApi(kube).list_namespaced_custom_object(
        "kafka.strimzi.io", "v1beta2", ns, "kafkatopics"
    )
    return {item["spec"]["topicName"]: item for item in found["items"]}


def strimzi_feed(
    open_github: FakeGitHubReleases, topic: str, policy: str, name: str = FEED
) -> dict[str, Any]:
    feed = helpers.quickstart("10-cvefeed.yaml")
    feed["metadata"]["name"] = name
    feed["spec"]["source"]["cvelistV5"]["releasesUrl"] = open_github.releases_url
    feed["spec"]["kafka"].update(strimzi={"clusterName": "cverag"}, topic={"name": topic, "partitions": 3})
    feed["spec"]["deletionPolicy"] = policy
    return feed


def _pair(kube: client.ApiClient, ns: str) -> dict[str, dict[str, Any]] | None:
    found = kafka_topics(kube, ns)
    return found if len(found) == 2 else None


def mark_ready(kube: client.ApiClient, ns: str, name: str) -> None:
    """What Strimzi's topic operator does once the topic exists in Kafka."""
    status = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-06-01T00:00:00Z"}]
        }
    }
    client.CustomObjectsApi(kube).patch_namespaced_custom_object_status(
        "kafka.strimzi.io", "v1beta2", ns, "kafkatopics", name, status
    )


def test_strimzi_kafka_topics_are_managed_instead(
    kube: client.ApiClient, ns: str, strimzi: None, open_github: FakeGitHubReleases, unique: str
) -> None:
    topic = f"cve.records.{unique}"
    helpers.create(kube, ns, "cvefeeds", strimzi_feed(open_github, topic, "Retain"))
    topics: dict[str, dict[str, Any]] = eventually(lambda: _pair(kube, ns), "2 KafkaTopics")
    for name in (topic, f"{topic}.dlq"):
        kt = topics[name]
        assert kt["metadata"]["labels"]["strimzi.io/cluster"] == "cverag"
        assert (kt["spec"]["partitions"], kt["spec"]["replicas"]) == (3, 1)
        assert (
            kt["spec"]["config"]["retention.ms"] == "-1"
            and kt["spec"]["config"]["cleanup.policy"] == "delete"
        )
        assert kt["metadata"]["ownerReferences"][0]["name"] == FEED
    helpers.wait_condition(kube, ns, "cvefeeds", FEED, "TopicReady", "False", "WaitingForStrimzi")
    for kt in topics.values():
        mark_ready(kube, ns, kt["metadata"]["name"])
    helpers.wait_condition(kube, ns, "cvefeeds", FEED, "TopicReady", "True", "KafkaTopicsReady")

    helpers.patch_spec(kube, ns, "cvefeeds", FEED, {"kafka": {"topic": {"partitions": 6}}})
    eventually(lambda: kafka_topics(kube, ns)[topic]["spec"]["partitions"] == 6, "KafkaTopic grown to 6")

    helpers.delete_all_cverag(kube, ns)  # Retain: the KafkaTopics stay, released from the feed
    kept = kafka_topics(kube, ns)
    assert set(kept) == {topic, f"{topic}.dlq"}
    assert all(not kt["metadata"].get("ownerReferences") for kt in kept.values())
    for kt in kept.values():
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(
            "kafka.strimzi.io", "v1beta2", ns, "kafkatopics", kt["metadata"]["name"]
        )

    helpers.create(kube, ns, "cvefeeds", strimzi_feed(open_github, topic, "Delete", name="doomed"))
    eventually(lambda: len(kafka_topics(kube, ns)) == 2, "2 KafkaTopics again")
    helpers.delete_all_cverag(kube, ns)
    eventually(lambda: not kafka_topics(kube, ns), "KafkaTopics deleted with the feed")


def test_keda_scaled_object_replaces_the_hpa(
    kube: client.ApiClient, ns: str, keda: None, feed: str, topic: str, postgres: Any, pg_schema: str
) -> None:
    helpers.secret(kube, ns, "cverag-postgres", {"dsn": postgres.dsn})
    helpers.create(kube, ns, "cvestores", store_body(pg_schema))
    migrate_for_real(kube, ns)
    helpers.wait_condition(kube, ns, "cvestores", STORE, "SchemaReady", "True")
    api = client.CustomObjectsApi(kube)
    scaled = eventually(lambda: _get_or_none(api, ns), "the ScaledObject")
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (3, 6)
    triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
    assert triggers["cpu"]["metadata"]["value"] == "70"
    assert triggers["kafka"]["metadata"]["topic"] == topic
    assert triggers["kafka"]["metadata"]["consumerGroup"] == f"cverag-store-{ns}-{STORE}"
    hpas = client.AutoscalingV2Api(kube).list_namespaced_horizontal_pod_autoscaler(ns).items
    assert hpas == []  # KEDA makes its own HPA; two would fight over the Deployment


def _get_or_none(api: client.CustomObjectsApi, ns: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = api.get_namespaced_custom_object(
            "keda.sh", "v1alpha1", ns, "scaledobjects", "cves-consumer"
        )
        return found
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
