"""Children of a CveFeed: one sync Job per upstream release, and Strimzi KafkaTopics."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic_settings import BaseSettings

from controllers.api.common import SecretKeyRef
from controllers.api.feed import CveFeed, Kafka
from controllers.dataplane.contract import FeedSettings
from controllers.manifests.common import (
    CONTAINER_SECURITY,
    METRICS_CONTAINER_PORT,
    METRICS_PORT,
    POD_SECURITY,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    child_name,
    labels,
    metadata,
    resources,
    secret_setting,
    setting,
)

COMPONENT = "cve-feed-sync"
RELEASE_ANNOTATION = "cverag.io/release"
ATTEMPT_ANNOTATION = "cverag.io/attempt"


def dead_letter_topic(kafka: Kafka) -> str:
    return kafka.dead_letter_topic or f"{kafka.topic.name}.dlq"


def topic_configs(kafka: Kafka) -> dict[str, str]:
    """Kafka topic configs the spec asks for (applied to both topics)."""
    topic = kafka.topic
    configs = {
        "retention.ms": str(topic.retention_ms),
        "cleanup.policy": topic.cleanup_policy,
        "max.message.bytes": str(topic.max_message_bytes),
    }
    if topic.min_in_sync_replicas is not None:
        configs["min.insync.replicas"] = str(topic.min_in_sync_replicas)
    return configs


def sync_job_name(feed: str, release: str, attempt: int = 0) -> str:
    """Deterministic per (feed, release, attempt): a restarted operator finds the Job it made before.

    A retry after a failed Job is a new attempt with its own name, so the failed Job stays
    for ``kubectl logs`` until its TTL runs out.
    """
    digest = hashlib.sha256(release.encode()).hexdigest()[:10]
    return child_name(feed, f"sync-{digest}" + (f"-{attempt}" if attempt else ""))


def source_env(feed: CveFeed) -> list[Manifest]:
    src = feed.spec.source
    if src.cvelist_v5 is not None:
        return [
            *setting(FeedSettings, "source", "cvelistV5"),
            *setting(FeedSettings, "source_url", src.cvelist_v5.releases_url),
            *secret_setting(FeedSettings, "github_token", src.cvelist_v5.github_token_secret_ref),
        ]
    if src.nvd is not None:
        return [
            *setting(FeedSettings, "source", "nvd"),
            *setting(FeedSettings, "source_url", src.nvd.url),
            *setting(FeedSettings, "nvd_window_days", src.nvd.window_days),
            *setting(FeedSettings, "nvd_page_size", src.nvd.page_size),
            *secret_setting(FeedSettings, "nvd_api_key", src.nvd.api_key_secret_ref),
        ]
    assert src.file is not None
    return [*setting(FeedSettings, "source", "file"), *setting(FeedSettings, "source_url", src.file.url)]


# The auth Secret's keys are librdkafka's names; each feeds one setting of the Kafka clients.
KAFKA_AUTH_KEYS = {
    "kafka_security_protocol": "security.protocol",
    "kafka_sasl_mechanism": "sasl.mechanism",
    "kafka_sasl_username": "sasl.username",
    "kafka_sasl_password": "sasl.password",
}


def kafka_env(kafka: Kafka, program: type[BaseSettings]) -> list[Manifest]:
    """Bootstrap servers plus optional SASL/TLS settings of ``program`` (the feed or the store),
    each from the auth Secret's keys."""
    out = setting(program, "kafka_bootstrap", kafka.bootstrap_servers)
    if kafka.auth_secret_ref is not None:
        for field, key in KAFKA_AUTH_KEYS.items():
            ref = SecretKeyRef(name=kafka.auth_secret_ref.name, key=key)
            out += secret_setting(program, field, ref, optional=True)
    return out


def sync_job(feed: CveFeed, release: str, cursor: str | None, attempt: int = 0) -> Manifest:
    """The Job that publishes exactly ``release`` (a cvelistV5 asset, an NVD window, a file)."""
    spec = feed.spec
    meta = feed.metadata
    name = sync_job_name(meta.name, release, attempt)
    notes = {RELEASE_ANNOTATION: release, ATTEMPT_ANNOTATION: str(attempt)}
    job_labels = labels("CveFeed", meta.name, COMPONENT)
    container: Manifest = {
        "name": "feed",
        "image": spec.job.image,
        "command": ["python", "-m", "workloads.feed"],
        "env": [
            *source_env(feed),
            *setting(FeedSettings, "release", release),
            *setting(FeedSettings, "since", cursor or spec.since),
            *kafka_env(spec.kafka, FeedSettings),
            *setting(FeedSettings, "topic", spec.kafka.topic.name),
            *setting(FeedSettings, "dlq_topic", dead_letter_topic(spec.kafka)),
            *setting(
                FeedSettings, "max_record_bytes", min(spec.kafka.topic.max_message_bytes, 4 * 1024 * 1024)
            ),
            *setting(FeedSettings, "metrics_port", METRICS_PORT),
        ],
        "ports": [METRICS_CONTAINER_PORT],
        "resources": resources(spec.job.resources),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [TMP_MOUNT],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(name, meta.namespace, job_labels, **notes),
        "spec": {
            "backoffLimit": spec.job.backoff_limit,
            "ttlSecondsAfterFinished": spec.job.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": job_labels, "annotations": {RELEASE_ANNOTATION: release}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": POD_SECURITY,
                    "containers": [container],
                    "volumes": [TMP_VOLUME],
                },
            },
        },
    }


def strimzi_topic(feed: CveFeed, topic: str) -> Manifest:
    """A Strimzi KafkaTopic for one of the feed's topics (when spec.kafka.strimzi is set)."""
    kafka = feed.spec.kafka
    assert kafka.strimzi is not None
    topic_labels: dict[str, Any] = {
        **labels("CveFeed", feed.metadata.name, "cve-topic"),
        "strimzi.io/cluster": kafka.strimzi.cluster_name,
    }
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": metadata(
            child_name(topic.replace(".", "-"), "topic"), feed.metadata.namespace, topic_labels
        ),
        "spec": {
            "topicName": topic,
            "partitions": kafka.topic.partitions,
            "replicas": kafka.topic.replication_factor,
            "config": topic_configs(kafka),
        },
    }
