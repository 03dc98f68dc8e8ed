"""CveFeed topics: created with the spec's partitions and configs, grown, never shrunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.controllers import flows, helpers
from tests.fakes.cvelist_layout import shared_records
from tests.fakes.github_releases import FakeGitHubReleases
from tests.support.kube import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.kafka]


def topic_state(bootstrap: str, topic: str) -> tuple[int, dict[str, str]]:
    """Partitions and configs of a topic, read straight from the broker."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = len(admin.list_topics(topic, timeout=15).topics[topic].partitions)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(15)
    return partitions, {name: entry.value for name, entry in configs.items()}


def quickstart_feed(kafka: Any, github: FakeGitHubReleases, topic: str, **kafka_topic: Any) -> dict[str, Any]:
    """examples/quickstart/10-cvefeed.yaml pointed at the test's broker, topic and GitHub fake."""
    feed = helpers.quickstart("10-cvefeed.yaml")
    feed["spec"]["kafka"]["bootstrapServers"] = kafka.bootstrap
    feed["spec"]["kafka"]["topic"].update(name=topic, **kafka_topic)
    feed["spec"]["source"]["cvelistV5"]["releasesUrl"] = github.releases_url
    return feed


def test_quickstart_feed_creates_both_topics_with_the_spec_configs(
    kube: client.ApiClient, ns: str, kafka: Any, open_github: FakeGitHubReleases, topic: str, cluster: Any
) -> None:
    helpers.create(kube, ns, "cvefeeds", quickstart_feed(kafka, open_github, topic))
    feed = helpers.wait_condition(kube, ns, "cvefeeds", "cvelist", "TopicReady", "True")
    assert feed["status"]["topic"] == topic and feed["status"]["partitions"] == 3
    for name in (topic, f"{topic}.dlq"):
        partitions, configs = topic_state(kafka.bootstrap, name)
        assert partitions == 3, name
        assert configs["retention.ms"] == "-1" and configs["cleanup.policy"] == "delete"
        assert configs["max.message.bytes"] == "8388608"
    ready = helpers.wait_condition(kube, ns, "cvefeeds", "cvelist", "Ready", "True")
    assert helpers.condition(ready, "SourceReachable")["status"] == "True"  # type: ignore[index]
    row = helpers.columns(cluster.kubeconfig, ns, "cvefeeds")[0]
    assert (row["READY"], row["SOURCE"], row["TOPIC"]) == ("True", "cvelistV5", topic)


def test_configs_follow_the_spec(
    kube: client.ApiClient, ns: str, kafka: Any, open_github: FakeGitHubReleases, topic: str
) -> None:
    body = quickstart_feed(
        kafka,
        open_github,
        topic,
        cleanupPolicy="compact,delete",
        minInSyncReplicas=1,
        maxMessageBytes=2097152,
    )
    body["spec"]["kafka"]["topic"]["retentionMs"] = 604800000
    helpers.create(kube, ns, "cvefeeds", body)
    helpers.wait_condition(kube, ns, "cvefeeds", "cvelist", "TopicReady", "True")
    _, configs = topic_state(kafka.bootstrap, topic)
    expected = {
        "cleanup.policy": "compact,delete",
        "min.insync.replicas": "1",
        "max.message.bytes": "2097152",
        "retention.ms": "604800000",
    }
    assert {k: configs[k] for k in expected} == expected
    helpers.patch_spec(kube, ns, "cvefeeds", "cvelist", {"kafka": {"topic": {"retentionMs": 86400000}}})
    eventually(
        lambda: topic_state(kafka.bootstrap, topic)[1]["retention.ms"] == "86400000",
        f"{topic} retention.ms updated",
        attempts=120,
    )


def test_partitions_grow_and_a_shrink_is_refused(
    kube: client.ApiClient, ns: str, kafka: Any, open_github: FakeGitHubReleases, topic: str
) -> None:
    helpers.create(kube, ns, "cvefeeds", quickstart_feed(kafka, open_github, topic))
    helpers.wait_condition(kube, ns, "cvefeeds", "cvelist", "TopicReady", "True")
    helpers.patch_spec(kube, ns, "cvefeeds", "cvelist", {"kafka": {"topic": {"partitions": 6}}})
    helpers.wait_for(
        kube, ns, "cvefeeds", "cvelist", lambda o: o["status"].get("partitions") == 6, "6 partitions"
    )
    assert (
        topic_state(kafka.bootstrap, topic)[0] == 6 and topic_state(kafka.bootstrap, f"{topic}.dlq")[0] == 6
    )

    # The API server refuses the change itself (CEL), with the reason in its answer ...
    with pytest.raises(ApiException) as refused:
        helpers.patch_spec(kube, ns, "cvefeeds", "cvelist", {"kafka": {"topic": {"partitions": 3}}})
    assert refused.value.status == 422 and "partitions may only grow" in str(refused.value.body)

    # ... and the operator refuses a new feed that would shrink an existing topic.
    second = quickstart_feed(kafka, open_github, topic)
    second["metadata"]["name"] = "cvelist-again"
    helpers.create(kube, ns, "cvefeeds", second)
    feed = helpers.wait_condition(
        kube, ns, "cvefeeds", "cvelist-again", "TopicReady", "False", "TopicShrinkRefused"
    )
    message = helpers.condition(feed, "TopicReady")["message"]  # type: ignore[index]
    assert "has 6 partitions" in message and "asks for 3" in message
    feed = helpers.wait_condition(
        kube, ns, "cvefeeds", "cvelist-again", "Ready", "False", "TopicShrinkRefused"
    )
    assert helpers.condition(feed, "Stalled")["status"] == "True"  # type: ignore[index]
    assert topic_state(kafka.bootstrap, topic)[0] == 6


def test_unreachable_kafka_is_reported(
    kube: client.ApiClient, ns: str, kafka: Any, open_github: FakeGitHubReleases, topic: str, free_port: int
) -> None:
    body = quickstart_feed(kafka, open_github, topic)
    body["spec"]["kafka"]["bootstrapServers"] = f"127.0.0.1:{free_port}"
    helpers.create(kube, ns, "cvefeeds", body)
    feed = helpers.wait_condition(kube, ns, "cvefeeds", "cvelist", "Ready", "False", "KafkaUnreachable")
    assert "did not answer" in helpers.condition(feed, "TopicReady")["message"]  # type: ignore[index]
    assert helpers.condition(feed, "Stalled")["status"] == "True"  # type: ignore[index]
    assert "recordsPublished" not in feed["status"]  # no counts are invented without Kafka


def test_sasl_credentials_from_the_auth_secret_reach_the_operator_and_the_job(
    kube: client.ApiClient, ns: str, kafka: Any, github: FakeGitHubReleases, topic: str, shared_data: Path
) -> None:
    if kafka.sasl is None:
        pytest.skip("an external broker (CVERAG_KAFKA_BOOTSTRAP) has no SASL listener known to the tests")
    auth = {k: v for k, v in kafka.sasl.items() if k != "bootstrap.servers"}
    helpers.secret(kube, ns, "kafka-auth", auth)
    helpers.secret(kube, ns, "github-token", {"token": flows.GITHUB_TOKEN})
    baseline = github.add_baseline(flows.DAY, shared_records(shared_data / "cve-records.jsonl.gz", limit=25))
    body = flows.feed_body(kafka, github, topic)
    body["spec"]["kafka"].update(
        bootstrapServers=kafka.sasl["bootstrap.servers"], authSecretRef={"name": "kafka-auth"}
    )
    helpers.create(kube, ns, "cvefeeds", body)

    helpers.wait_condition(kube, ns, "cvefeeds", flows.FEED, "TopicReady", "True")
    assert topic_state(kafka.bootstrap, topic)[0] == 3  # created by the operator over SASL
    job = flows.job_for(kube, ns, baseline)
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    password = env["CVERAG_KAFKA_SASL_PASSWORD"]
    assert "value" not in password  # never copied into the pod spec
    assert password["valueFrom"]["secretKeyRef"]["name"] == "kafka-auth"
    assert flows.run_and_complete(kube, ns, job)["published"] == 25

    wrong = {"stringData": {"sasl.password": "not-the-password"}}
    client.CoreV1Api(kube).patch_namespaced_secret("kafka-auth", ns, wrong)
    feed = helpers.wait_condition(
        kube, ns, "cvefeeds", flows.FEED, "TopicReady", "False", "KafkaAuthenticationFailed"
    )
    message = helpers.condition(feed, "TopicReady")["message"]  # type: ignore[index]
    assert "spec.kafka.authSecretRef" in message and "Authentication failed" in message
    assert "not-the-password" not in json.dumps(feed)
