"""Publishing to the records topic and the dead-letter topic, with delivery accounting.

Idempotence with ``acks=all`` makes the producer's own retries safe (no duplicates, order
kept per CVE id, which is the key); zstd and large batches keep 300k records cheap on the
wire.  Nothing counts as published until the broker confirmed it: the counters move in the
delivery callback.  A record the broker refuses as too large (over the topic's
``max.message.bytes``, whatever the feed's own limit) is not lost: it is re-sent to the
dead-letter topic, cut to ``dlq_value_limit`` bytes; should the dead-letter topic refuse that
too, it is cut further, down to its headers alone.  A cut letter carries the original size
and the SHA-256 of the original bytes, so the record can still be identified.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from workloads.feed import contract
from workloads.feed.contract import Reason
from workloads.feed.model import RawRecord, SourceKind
from workloads.feed.validate import Publishable

log = logging.getLogger(__name__)
Headers = list[tuple[str, str | bytes | None]]
POLL_EVERY = 1000


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap}
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
        }
        config.update({key: value for key, value in optional.items() if value})
        return config


@dataclass
class Deliveries:
    published: int = 0
    dead_lettered: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class RecordProducer:
    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        dlq_topic: str,
        source: SourceKind,
        max_record_bytes: int = contract.DEFAULT_MAX_RECORD_BYTES,
        dlq_value_limit: int = 512 * 1024,
        compression: str = "zstd",
    ) -> None:
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.source = str(source)
        self.dlq_value_limit = dlq_value_limit
        self.counts = Deliveries()
        self._refused: list[tuple[bytes | None, bytes, Headers]] = []
        self._sent = 0
        self._producer = Producer(
            {
                **settings.client_config(),
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": compression,
                "linger.ms": 25,
                "batch.size": 1_000_000,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 200_000,
                "queue.buffering.max.kbytes": 512 * 1024,
                # checked by the client before compression; the broker checks the compressed batch
                # and refuses what is still too big, which _refuse then handles
                "message.max.bytes": 2 * max(max_record_bytes, dlq_value_limit) + 1024 * 1024,
                "on_delivery": self._delivered,
            }
        )

    def publish(self, record: RawRecord, verdict: Publishable) -> None:
        headers: Headers = [
            (contract.SOURCE, self.source),
            (contract.SHA256, verdict.sha256),
            (contract.RELEASE, record.release),
            (contract.KIND, verdict.kind.value),
        ]
        if verdict.date_updated is not None:
            headers.append((contract.DATE_UPDATED, verdict.date_updated))
        self._send(self.topic, verdict.key.encode(), record.data, headers)

    def dead_letter(self, key: str | None, value: bytes, reason: Reason, detail: str, release: str) -> None:
        self.counts.reasons[reason.value] += 1
        headers: Headers = [
            (contract.DLQ_REASON, reason.value),
            (contract.DLQ_DETAIL, detail),
            (contract.SOURCE, self.source),
            (contract.RELEASE, release),
        ]
        self._send(self.dlq_topic, key.encode() if key else None, value, headers)

    def _send(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        extra: dict[str, Any] = {}
        if topic != self.topic:  # a delivery report may lack the headers; a refused letter needs them
            extra["on_delivery"] = lambda error, message: self._delivered(error, message, headers)
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, **extra)
                break
            except BufferError:
                self._producer.poll(0.1)
            except KafkaException as exc:
                self._refuse(topic, key, value, headers, exc.args[0])
                return
        self._sent += 1
        if self._sent % POLL_EVERY == 0:
            self._producer.poll(0)
            self._resend_refused()

    def _delivered(self, error: KafkaError | None, message: Message, headers: Headers | None = None) -> None:
        if error is None:
            if message.topic() == self.topic:
                self.counts.published += 1
            else:
                self.counts.dead_lettered += 1
            return
        value = message.value() or b""
        sent = headers if headers is not None else list(message.headers() or [])
        self._refuse(message.topic() or "", message.key(), value, sent, error)

    def _refuse(self, topic: str, key: bytes | None, value: bytes, headers: Any, error: KafkaError) -> None:
        """A message the client or broker rejected: too large ones move on (cut); others are lost."""
        if error.code() == KafkaError.MSG_SIZE_TOO_LARGE and (topic == self.topic or value):
            if topic == self.topic:
                self.counts.reasons[Reason.TOO_LARGE.value] += 1
                letter = _too_large_headers(self.source, headers, error)
                cut = value[: self.dlq_value_limit]
            else:  # the dead-letter topic refused the letter: a quarter of it, at last nothing
                letter = [(name, _text(raw)) for name, raw in headers]
                cut = value[: len(value) // 4] if len(value) > 1024 else b""
            if len(cut) < len(value):
                letter = _marked_cut(letter, value)
            self._refused.append((key, cut, letter))
            return
        self.counts.failed += 1
        log.error(
            "could not deliver %s to %s: %s", (key or b"<no key>").decode(errors="replace"), topic, error
        )

    def _resend_refused(self) -> None:
        while self._refused:
            key, value, headers = self._refused.pop()
            self._send(self.dlq_topic, key, value[: self.dlq_value_limit], headers)

    def flush(self, timeout: float = 120.0) -> int:
        """Wait for every delivery; returns how many messages were never confirmed (counted failed)."""
        deadline = time.monotonic() + timeout
        remaining = 0
        while time.monotonic() < deadline:
            remaining = self._producer.flush(max(0.1, deadline - time.monotonic()))
            if not self._refused and remaining == 0:
                return 0
            self._resend_refused()
        self.counts.failed += remaining
        return remaining


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _too_large_headers(source: str, headers: Any, error: KafkaError) -> Headers:
    """A refused record's dead-letter headers: the reason, and where it came from."""
    return [
        (contract.DLQ_REASON, Reason.TOO_LARGE.value),
        (contract.DLQ_DETAIL, f"broker refused it: {error}"),
        (contract.SOURCE, source),
        *((name, _text(raw)) for name, raw in headers if name == contract.RELEASE),
    ]


def _marked_cut(headers: Headers, value: bytes) -> Headers:
    """``headers`` saying the value was cut: the original size and digest (set once, by the first cut)."""
    if any(name == contract.DLQ_TRUNCATED for name, _ in headers):
        return headers
    digest = hashlib.sha256(value).hexdigest()
    return [*headers, (contract.DLQ_TRUNCATED, str(len(value))), (contract.DLQ_ORIGINAL_SHA256, digest)]
