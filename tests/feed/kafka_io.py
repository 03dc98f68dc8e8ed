"""Topic set-up and read-back against the real test broker (the ``kafka`` fixture)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

# The broker default, set explicitly so the "broker refuses a too-large record" path is deterministic.
BROKER_MAX_MESSAGE_BYTES = 1_048_588


def create_topics(bootstrap: str, partitions: int = 3) -> tuple[str, str]:
    """A fresh records topic and its dead-letter topic (``<topic>.dlq``)."""
    topic = f"feed-test-{uuid.uuid4().hex[:10]}"
    config = {"max.message.bytes": str(BROKER_MAX_MESSAGE_BYTES)}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, config=config) for name in (topic, f"{topic}.dlq")]
    )
    for future in futures.values():
        future.result(30)
    return topic, f"{topic}.dlq"


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout: float = 60.0, idle: float = 2.0
) -> list[Message]:
    """Every message of ``topic``: waits for ``expected`` ones, then ``idle`` seconds for extras."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"feed-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])  # offset 0 = beginning
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.consume(10_000, 0.5)
            got = [m for m in batch if m.error() is None]
            messages.extend(got)
            quiet_since = time.monotonic() if got else quiet_since
            if len(messages) >= expected and time.monotonic() - quiet_since >= idle:
                break
        return messages
    finally:
        consumer.close()


def headers(message: Message) -> dict[str, str]:
    raw: Any = message.headers() or []
    return {name: (value or b"").decode() for name, value in raw}


def key(message: Message) -> str | None:
    raw: Any = message.key()
    return raw.decode() if raw is not None else None
