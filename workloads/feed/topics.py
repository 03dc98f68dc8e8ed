"""Checking (and optionally creating) the records and dead-letter topics before a run.

Without this a missing topic on a broker that does not auto-create topics would only show
after ``message.timeout.ms`` (five minutes) as failed deliveries; checking first turns it
into an immediate, clear failure — or, with ``--create-topics N``, into a created topic.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.cimpl import NewTopic

from workloads.common.kafka_login import ObservedAdmin
from workloads.feed.producer import KafkaSettings


class SinkUnavailable(RuntimeError):
    """The broker cannot be reached or lacks a topic the run needs."""


def prepare_topics(
    settings: KafkaSettings, topics: Sequence[str], create_partitions: int | None, timeout: float = 15.0
) -> None:
    observed = ObservedAdmin({**settings.client_config(), "log_level": 3})
    admin = observed.client
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        if refused := observed.refused():
            raise SinkUnavailable(
                f"Kafka at {settings.bootstrap} refused the credentials: {refused}"
            ) from exc
        raise SinkUnavailable(f"Kafka at {settings.bootstrap} did not answer: {exc}") from exc
    missing = [topic for topic in topics if topic not in existing]
    if not missing:
        return
    if not create_partitions:
        raise SinkUnavailable(f"topics {missing} do not exist (create them, or pass --create-topics N)")
    futures = admin.create_topics([NewTopic(t, num_partitions=create_partitions) for t in missing])
    for topic, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise SinkUnavailable(f"could not create topic {topic}: {exc}") from exc
