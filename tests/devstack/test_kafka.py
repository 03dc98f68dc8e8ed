"""The local Kafka broker keeps what the pipeline relies on: per-key order, exactly-once
delivery from an idempotent producer, and no loss when the broker crashes mid-production.

Messages are ``key -> "key:seq"`` with a per-key sequence number, produced round-robin over
the keys so every partition interleaves many keys; reading them back checks count, order and
duplicates at once.  The log's own offsets (high - low watermark) give the exact number of
records stored, so a duplicate written by a retry cannot hide behind a consumer that stops
early.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from devstack import kafka as kafka_service

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 3
KEYS = 50
DEADLINE_S = 180.0


def _messages(per_key: int) -> list[tuple[str, str]]:
    return [(f"key-{k:02d}", f"key-{k:02d}:{seq}") for seq in range(per_key) for k in range(KEYS)]


def _create_topic(bootstrap: str) -> str:
    topic = f"test-kafka-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[topic].result(30)
    return topic


class _Acks:
    """Delivery reports of one producer: how many were acknowledged, and every failure."""

    def __init__(self) -> None:
        self.delivered = 0
        self.errors: list[str] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.errors.append(f"{msg.key()!r}: {err}")


def _producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": int(DEADLINE_S * 1000),
        }
    )


def _produce(producer: Producer, topic: str, messages: list[tuple[str, str]], acks: _Acks) -> None:
    for i, (key, value) in enumerate(messages):
        producer.produce(topic, key=key, value=value, on_delivery=acks)
        if i % 200 == 0:
            producer.poll(0.005)  # serve delivery reports and pace production a little


def _flush(producer: Producer) -> None:
    assert producer.flush(DEADLINE_S) == 0, "messages still undelivered after the deadline"


def _stored_count(consumer: Consumer, topic: str) -> int:
    marks = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(PARTITIONS)]
    return sum(high - low for low, high in marks)


def _consume_all(bootstrap: str, topic: str) -> dict[str, list[int]]:
    """Read the topic through a consumer group; per key, the sequence numbers in arrival order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-readers",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        expected = _stored_count(consumer, topic)
        consumer.subscribe([topic])
        seen: dict[str, list[int]] = {}
        received, deadline = 0, time.monotonic() + DEADLINE_S
        while received < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=1.0):
                assert msg.error() is None, msg.error()
                key, _, seq = bytes(msg.value() or b"").decode().partition(":")
                seen.setdefault(key, []).append(int(seq))
                received += 1
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        assert sum(tp.offset for tp in committed) == expected == received
        return seen
    finally:
        consumer.close()


def _assert_exactly_once_in_order(seen: dict[str, list[int]], per_key: int) -> None:
    assert sorted(seen) == sorted({key for key, _ in _messages(1)})
    for key, seqs in seen.items():
        assert seqs == list(range(per_key)), f"{key}: out of order, missing or duplicated"


def test_keyed_messages_come_back_once_and_in_key_order(kafka: Any) -> None:
    topic, per_key = _create_topic(kafka.bootstrap), 200
    producer, acks = _producer(kafka.bootstrap), _Acks()
    _produce(producer, topic, _messages(per_key), acks)
    _flush(producer)
    assert (acks.delivered, acks.errors) == (KEYS * per_key, [])

    _assert_exactly_once_in_order(_consume_all(kafka.bootstrap, topic), per_key)


@pytest.fixture
def crashable_broker(kafka: Any) -> Iterator[Any]:
    """The session broker, which this test may kill; it is running again afterwards."""
    if kafka_service.external_bootstrap():
        pytest.skip(f"{kafka_service.BOOTSTRAP_ENV} points at an external broker, which is not ours to kill")
    yield kafka
    if not kafka_service.running():
        kafka_service.restart()


def test_broker_crash_mid_production_loses_and_duplicates_nothing(crashable_broker: Any) -> None:
    bootstrap, per_key = crashable_broker.bootstrap, 300
    topic, messages = _create_topic(bootstrap), _messages(per_key)
    before_crash, after_crash = messages[: len(messages) // 3], messages[len(messages) // 3 :]
    producer, acks = _producer(bootstrap), _Acks()

    _produce(producer, topic, before_crash, acks)
    for _ in range(1000):  # let part of the first third be acknowledged, leave the rest in flight
        if acks.delivered >= len(before_crash) // 2:
            break
        producer.poll(0.01)
    kafka_service.kill()
    acked_at_crash = acks.delivered
    assert not kafka_service.running()

    restarter = threading.Thread(target=kafka_service.restart, name="kafka-restart")
    restarter.start()
    _produce(producer, topic, after_crash, acks)  # queued while the broker is down or restarting
    restarter.join(DEADLINE_S)
    assert not restarter.is_alive() and kafka_service.running(), "broker did not come back"
    _flush(producer)

    assert 0 < acked_at_crash < len(messages)
    assert (acks.delivered, acks.errors) == (len(messages), [])
    _assert_exactly_once_in_order(_consume_all(bootstrap, topic), per_key)
    # the restarted broker is the same one: its SASL listener takes the same credentials
    sasl = crashable_broker.sasl
    assert sasl is not None and topic in AdminClient(sasl).list_topics(timeout=15).topics


def test_the_pod_listener_sends_clients_to_the_real_nodes_gateway(kafka: Any) -> None:
    """Pods cannot use the loopback listeners' metadata (127.0.0.1 is the pod's own); the POD
    listener answers on loopback too but names the gateway, which the host forwards to it."""
    if kafka_service.external_bootstrap():
        pytest.skip(f"{kafka_service.BOOTSTRAP_ENV} points at an external broker without a pod listener")
    from devstack.node_runtime import GATEWAY

    host, _, port = kafka.pod_bootstrap.rpartition(":")
    assert host == GATEWAY
    for bootstrap, advertised in ((f"127.0.0.1:{port}", GATEWAY), (kafka.bootstrap, "127.0.0.1")):
        brokers = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).brokers
        assert [b.host for b in brokers.values()] == [advertised], bootstrap
