"""Kafka topics through the AdminClient: create, grow, configure, count, delete.

A topic's partition count may grow but never shrink (Kafka cannot remove partitions, and
recreating the topic would lose every record), so a spec asking for fewer partitions than
the topic has is refused with :class:`TopicShrinkRefused` rather than "fixed".  Configs are
changed with incremental alters, touching only the keys the spec sets, so settings an
administrator added by hand survive.  Clients and errors live in ``kafka_admin``, counting
with offsets in ``offsets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, TopicCollection

# confluent_kafka.admin re-exports these without __all__, which mypy --strict does not count.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from controllers.clients.kafka_admin import TIMEOUT, TOLERATED, admin, wait


class TopicShrinkRefused(ValueError):
    """The spec asks for fewer partitions than the topic has."""

    def __init__(self, topic: str, actual: int, wanted: int) -> None:
        self.actual = actual
        super().__init__(
            f"topic {topic} has {actual} partitions and the spec asks for {wanted}: Kafka cannot remove"
            f" partitions, so the topic is left as it is; set partitions to {actual} or more, or use a new topic"
        )


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class TopicReport:
    name: str
    partitions: int
    created: bool = False
    grown_from: int | None = None
    changed_configs: tuple[str, ...] = ()


def partitions(config: Mapping[str, str], topic: str) -> int | None:
    """The topic's partition count, or ``None`` when it does not exist."""
    future = admin(config).describe_topics(TopicCollection([topic]), request_timeout=TIMEOUT)[topic]
    description = wait(future, f"describing topic {topic}", frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART}))
    return None if description is TOLERATED else len(description.partitions)


def ensure(config: Mapping[str, str], spec: TopicSpec) -> TopicReport:
    """Make the topic match ``spec``: create it, grow it, align its configs."""
    client = admin(config)
    current = partitions(config, spec.name)
    if current is None:
        new = NewTopic(spec.name, spec.partitions, spec.replication_factor, config=dict(spec.configs))
        future = client.create_topics([new], request_timeout=TIMEOUT)[spec.name]
        exists = frozenset({KafkaError.TOPIC_ALREADY_EXISTS})
        if wait(future, f"creating topic {spec.name}", exists) is not TOLERATED:
            return TopicReport(spec.name, spec.partitions, created=True)
        # Somebody else created it meanwhile: check it like any existing topic.
        current = partitions(config, spec.name) or spec.partitions
    if current > spec.partitions:
        raise TopicShrinkRefused(spec.name, current, spec.partitions)
    grown_from = None
    if current < spec.partitions:
        grow = client.create_partitions([NewPartitions(spec.name, spec.partitions)], request_timeout=TIMEOUT)
        wait(grow[spec.name], f"growing topic {spec.name} to {spec.partitions} partitions")
        grown_from = current
    changed = _align_configs(client, spec)
    return TopicReport(spec.name, spec.partitions, grown_from=grown_from, changed_configs=changed)


def _align_configs(client: AdminClient, spec: TopicSpec) -> tuple[str, ...]:
    resource = ConfigResource(ResourceType.TOPIC, spec.name)
    described = wait(
        client.describe_configs([resource], request_timeout=TIMEOUT)[resource], "reading configs"
    )
    current = {name: entry.value for name, entry in described.items()}
    changed = tuple(sorted(k for k, v in spec.configs.items() if current.get(k) != v))
    if changed:
        entries = [
            ConfigEntry(k, spec.configs[k], incremental_operation=AlterConfigOpType.SET) for k in changed
        ]
        alter = ConfigResource(ResourceType.TOPIC, spec.name, incremental_configs=entries)
        futures = client.incremental_alter_configs([alter], request_timeout=TIMEOUT)
        wait(futures[alter], f"setting {', '.join(changed)} of topic {spec.name}")
    return changed


def delete(config: Mapping[str, str], topics: Sequence[str]) -> list[str]:
    """Delete topics that exist; returns those deleted."""
    futures = admin(config).delete_topics(list(topics), request_timeout=TIMEOUT)
    missing = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART})
    return [t for t, f in futures.items() if wait(f, f"deleting topic {t}", missing) is not TOLERATED]


def delete_group(config: Mapping[str, str], group: str) -> None:
    """Forget a consumer group's committed offsets (a deleted store's group)."""
    future = admin(config).delete_consumer_groups([group], request_timeout=TIMEOUT)[group]
    wait(future, f"deleting consumer group {group}", frozenset({KafkaError.GROUP_ID_NOT_FOUND}))
