"""Counting with offsets: records a feed has published, and how far behind a store's consumers are.

The records a feed has published are its topic's end offsets (retention keeps them forever by
default, and the idempotent producer writes no transaction markers), so no pod log has to be
read; a store's lag is the end offsets minus its consumer group's committed offsets.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

from controllers.handlers.topics import TIMEOUT, admin, partitions, wait


def end_offsets(config: Mapping[str, str], topic: str, spec: OffsetSpec | None = None) -> list[int]:
    """Per-partition end (or ``spec``) offsets; empty when the topic does not exist."""
    count = partitions(config, topic)
    if not count:
        return []
    position = spec or OffsetSpec.latest()  # type: ignore[no-untyped-call]
    wanted = {TopicPartition(topic, p): position for p in range(count)}
    futures = admin(config).list_offsets(wanted, request_timeout=TIMEOUT)
    ordered = sorted(wanted, key=lambda t: t.partition)
    return [int(wait(futures[tp], f"reading offsets of {topic}").offset) for tp in ordered]


def records(config: Mapping[str, str], topic: str) -> int:
    """Records ever written to the topic: the sum of its end offsets."""
    return sum(end_offsets(config, topic))


def consumer_lag(config: Mapping[str, str], topic: str, group: str) -> int:
    """Records in ``topic`` not yet committed by ``group`` (from the start where it has none)."""
    latest = end_offsets(config, topic)
    if not latest:
        return 0
    earliest = end_offsets(config, topic, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(len(latest))])
    future = admin(config).list_consumer_group_offsets([request], request_timeout=TIMEOUT)[group]
    answer = wait(future, f"reading offsets of group {group}")
    committed = {tp.partition: tp.offset for tp in answer.topic_partitions if tp.offset >= 0}
    return sum(end - committed.get(p, earliest[p]) for p, end in enumerate(latest))
