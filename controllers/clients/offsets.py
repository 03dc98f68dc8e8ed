"""Counting with offsets: records a feed has published, and how far behind a store's consumers are.

The records a feed has published are its topic's end offsets (retention keeps them forever by
default, and the idempotent producer writes no transaction markers), so no pod log has to be
read; a store's lag is the end offsets minus the positions its consumers committed to
PostgreSQL with their versions (``consumer_offsets``: where they resume).

The group's offsets in Kafka are deliberately not asked for: they are only a courtesy copy,
and librdkafka's admin ListConsumerGroupOffsets can crash the whole process with SIGSEGV
when the group coordinator is still loading (a NULL consumer-group handle in its
OffsetFetch error path, confluent-kafka-javascript#374).  It did, once, to this operator
on a broker a few seconds old: ``rdk:main: segfault at 58 ... in librdkafka``.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import TopicPartition
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

from controllers.clients.kafka_admin import TIMEOUT, admin, wait
from controllers.clients.topics import partitions


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


def consumer_lag(config: Mapping[str, str], topic: str, positions: Mapping[int, int]) -> int:
    """Records in ``topic`` beyond ``positions`` (partition -> next offset; from the start where
    a partition has none)."""
    latest = end_offsets(config, topic)
    if not latest:
        return 0
    earliest = end_offsets(config, topic, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    return sum(max(0, end - positions.get(p, earliest[p])) for p, end in enumerate(latest))
