"""Children of a CveFeed: one sync Job per upstream release, and Strimzi KafkaTopics."""

from __future__ import annotations

import hashlib
from typing import Any

from controllers.api.feed import CveFeed, Kafka
from controllers.manifests.common import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    child_name,
    env,
    labels,
    metadata,
    resources,
    secret_env,
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
            *env("CVERAG_SOURCE", "cvelistV5"),
            *env("CVERAG_SOURCE_URL", src.cvelist_v5.releases_url),
            *secret_env("CVERAG_GITHUB_TOKEN", src.cvelist_v5.github_token_secret_ref),
        ]
    if src.nvd is not None:
        return [
            *env("CVERAG_SOURCE", "nvd"),
            *env("CVERAG_SOURCE_URL", src.nvd.url),
            *env("CVERAG_NVD_WINDOW_DAYS", src.nvd.window_days),
            *env("CVERAG_NVD_PAGE_SIZE", src.nvd.page_size),
            *secret_env("CVERAG_NVD_API_KEY", src.nvd.api_key_secret_ref),
        ]
    assert src.file is not None
    return [*env("CVERAG_SOURCE", "file"), *env("CVERAG_SOURCE_URL", src.file.url)]


def kafka_env(kafka: Kafka) -> list[Manifest]:
    """Bootstrap servers plus optional SASL/TLS settings, each from the auth Secret's keys."""
    out = env("CVERAG_KAFKA_BOOTSTRAP", kafka.bootstrap_servers)
    if kafka.auth_secret_ref is not None:
        for var, key in (
            ("CVERAG_KAFKA_SECURITY_PROTOCOL", "security.protocol"),
            ("CVERAG_KAFKA_SASL_MECHANISM", "sasl.mechanism"),
            ("CVERAG_KAFKA_SASL_USERNAME", "sasl.username"),
            ("CVERAG_KAFKA_SASL_PASSWORD", "sasl.password"),
        ):
            ref = {"name": kafka.auth_secret_ref.name, "key": key, "optional": True}
            out.append({"name": var, "valueFrom": {"secretKeyRef": ref}})
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
            *env("CVERAG_RELEASE", release),
            *env("CVERAG_SINCE", cursor or spec.since),
            *kafka_env(spec.kafka),
            *env("CVERAG_TOPIC", spec.kafka.topic.name),
            *env("CVERAG_DLQ_TOPIC", dead_letter_topic(spec.kafka)),
            *env("CVERAG_MAX_RECORD_BYTES", min(spec.kafka.topic.max_message_bytes, 4 * 1024 * 1024)),
        ],
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
