"""CveFeed: its topics in Kafka (or as Strimzi KafkaTopics), release sync Jobs, deletion.

``changed`` runs on create, resume and spec updates and converges the topics at once;
``tick`` runs on the operator's timer and adds release monitoring and the counts.  Both
return an :class:`Outcome`; neither writes status itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from controllers.api.common import DeletionPolicy
from controllers.api.feed import CveFeed, CveFeedStatus
from controllers.clients import credentials, kafka_admin, kube, offsets, topics
from controllers.clients.objects import condition
from controllers.handlers import feed_sync, network
from controllers.handlers.outcome import Outcome, merged, summarise
from controllers.machinery import events, rest
from controllers.machinery.conditions import Cond
from controllers.machinery.rest import ApiError
from controllers.manifests.feed import dead_letter_topic, strimzi_topic, topic_configs

TOPIC_READY = "TopicReady"
PARTS = (TOPIC_READY, feed_sync.SOURCE_REACHABLE, feed_sync.SYNCED)
PROGRESSING = frozenset({"SyncJobRunning", "WaitingForStrimzi", "WaitingForTopic"})
READY_WHILE = frozenset({"SyncJobRunning", "Suspended"})
STRIMZI = "kafka.strimzi.io/v1beta2"


def topic_specs(feed: CveFeed) -> list[topics.TopicSpec]:
    kafka = feed.spec.kafka
    configs = topic_configs(kafka)
    return [
        topics.TopicSpec(name, kafka.topic.partitions, kafka.topic.replication_factor, configs)
        for name in (kafka.topic.name, dead_letter_topic(kafka))
    ]


def changed(body: Mapping[str, Any]) -> Outcome[CveFeedStatus]:
    feed = CveFeed.from_body(body)
    cond, status, _ = reconcile_topics(feed, body)
    out = Outcome(merged(status, CveFeedStatus(source_type=feed.spec.source.type)), [cond])
    return summarise(out, body, PARTS, "UpToDate", PROGRESSING, READY_WHILE)


def tick(body: Mapping[str, Any]) -> Outcome[CveFeedStatus]:
    feed = CveFeed.from_body(body)
    cond, status, config = reconcile_topics(feed, body)
    network.for_feed(feed, body)
    sync = feed_sync.step(feed, body, cond.status is True, datetime.now(UTC))
    status = merged(status, sync.status, CveFeedStatus(source_type=feed.spec.source.type))
    if config is not None and (sync.completed or status.active_job is None):
        status = merged(status, _counts(config, feed))
    return summarise(
        Outcome(status, [cond, *sync.conditions]), body, PARTS, "UpToDate", PROGRESSING, READY_WHILE
    )


def _counts(config: Mapping[str, str], feed: CveFeed) -> CveFeedStatus:
    """Records and dead letters ever published: the two topics' end offsets.

    Read when a Job has just completed or none runs, so the status counts what completed
    Jobs published (a Job created in the same tick has not started writing yet).
    """
    kafka = feed.spec.kafka
    try:
        return CveFeedStatus(
            records_published=offsets.records(config, kafka.topic.name),
            records_dead_lettered=offsets.records(config, dead_letter_topic(kafka)),
        )
    except (kafka_admin.KafkaUnreachable, kafka_admin.TopicRejected):
        return CveFeedStatus()  # the TopicReady condition already says why; counts catch up next time


def reconcile_topics(
    feed: CveFeed, owner: Mapping[str, Any]
) -> tuple[Cond, CveFeedStatus, dict[str, str] | None]:
    """TopicReady, the topic's status fields, and the Kafka config when Kafka answered."""
    status = CveFeedStatus(topic=feed.spec.kafka.topic.name)
    if feed.spec.kafka.strimzi is not None:
        return _strimzi_topics(feed, owner), status, None
    try:
        config = credentials.kafka_config(feed.metadata.namespace, feed.spec.kafka)
    except credentials.MissingSecret as exc:
        return Cond(TOPIC_READY, False, "SecretNotFound", str(exc)), status, None
    try:
        reports = [topics.ensure(config, spec) for spec in topic_specs(feed)]
    except topics.TopicShrinkRefused as exc:
        status.partitions = exc.actual
        return Cond(TOPIC_READY, False, "TopicShrinkRefused", str(exc)), status, config
    except kafka_admin.KafkaUnreachable as exc:
        refused = kafka_admin.refused_credentials(config)
        kafka_admin.forget(config)
        if refused is not None:
            message = f"Kafka refused the credentials of spec.kafka.authSecretRef: {refused}"
            return Cond(TOPIC_READY, False, "KafkaAuthenticationFailed", message), status, None
        return Cond(TOPIC_READY, False, "KafkaUnreachable", str(exc)), status, None
    except kafka_admin.TopicRejected as exc:
        return Cond(TOPIC_READY, False, "TopicRejected", str(exc)), status, config
    _announce(owner, reports)
    status.partitions = reports[0].partitions
    names = " and ".join(r.name for r in reports)
    return (
        Cond(TOPIC_READY, True, "TopicsReady", f"{names}: {reports[0].partitions} partitions"),
        status,
        config,
    )


def _announce(owner: Mapping[str, Any], reports: list[topics.TopicReport]) -> None:
    """An Event for every change made to a topic, so `kubectl describe` tells the story."""
    for r in reports:
        if r.created:
            message, reason = f"created topic {r.name} with {r.partitions} partitions", "TopicCreated"
        elif r.grown_from is not None:
            message, reason = (
                f"grew topic {r.name} from {r.grown_from} to {r.partitions} partitions",
                "TopicGrown",
            )
        elif r.changed_configs:
            message, reason = f"set {', '.join(r.changed_configs)} on topic {r.name}", "TopicConfigured"
        else:
            continue
        events.post(rest.default(), dict(owner), "Normal", reason, message)


def _strimzi_topics(feed: CveFeed, owner: Mapping[str, Any]) -> Cond:
    """Apply one KafkaTopic per topic; ready when Strimzi's topic operator says so."""
    waiting = []
    for spec in topic_specs(feed):
        applied = kube.apply(strimzi_topic(feed, spec.name), owner)
        if not condition(applied, "Ready"):
            waiting.append(applied["metadata"]["name"])
    if waiting:
        message = f"KafkaTopic {', '.join(waiting)} not Ready yet (Strimzi's topic operator reconciles them)"
        return Cond(TOPIC_READY, False, "WaitingForStrimzi", message)
    return Cond(TOPIC_READY, True, "KafkaTopicsReady", "Strimzi reports both KafkaTopics Ready")


def delete(body: Mapping[str, Any]) -> None:
    """Retain: topics stay (KafkaTopics are released from the feed first).  Delete: remove them."""
    feed = CveFeed.from_body(body)
    ns, specs = feed.metadata.namespace, topic_specs(feed)
    if feed.spec.kafka.strimzi is not None:
        for spec in specs:
            name = strimzi_topic(feed, spec.name)["metadata"]["name"]
            if feed.spec.deletion_policy is DeletionPolicy.DELETE:
                kube.delete(STRIMZI, "KafkaTopic", ns, name)
            else:
                _release(ns, name)
        return
    if feed.spec.deletion_policy is not DeletionPolicy.DELETE:
        return
    try:
        config = credentials.kafka_config(ns, feed.spec.kafka)
    except credentials.MissingSecret as exc:
        events.post(rest.default(), dict(body), "Warning", "TopicsLeft", f"cannot delete the topics: {exc}")
        return
    try:
        topics.delete(config, [s.name for s in specs])
    except kafka_admin.KafkaUnreachable as exc:
        raise kopf.TemporaryError(f"topics not deleted yet: {exc}", delay=15) from exc


def _release(namespace: str, name: str) -> None:
    """Drop the owner reference, so the garbage collector (and Strimzi) keep the topic."""
    path = kube.object_path(STRIMZI, "KafkaTopic", namespace, name)
    try:
        patch = {"metadata": {"ownerReferences": None}}
        kube.request("PATCH", path, patch, content_type="application/merge-patch+json")
    except ApiError as exc:
        if exc.status != 404:
            raise
