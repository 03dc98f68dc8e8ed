"""Dead-letter delivery for messages the store will not apply (data-plane contract).

Rejected messages are produced to ``<topic>.dlq`` with the original key and bytes and the
contract headers, plus where they came from.  :meth:`DeadLetters.send` waits for the
broker's acknowledgement and raises if any delivery failed: the batch transaction commits
only after it returns, so a rejected message is never dropped silently.  A value the
broker refuses as too large is re-sent cut to ``TRUNCATED_BYTES``, then to a quarter of
that while it is still refused, at last as headers alone: with the contract's
``cverag-dlq-truncated`` header giving its real size and ``cverag-dlq-original-sha256`` its
digest.  (Raising instead crashed the consumer at the same offset on every restart.)  A crash
between delivery and commit re-delivers it on restart (dead letters are at-least-once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from workloads.store import metrics
from workloads.store.messages import Rejected
from workloads.store.settings import ConsumeSettings

COPIED_HEADERS = ("cverag-source", "cverag-release", "cverag-kind", "cverag-sha256")
TRUNCATED_BYTES = 512 * 1024
DETAIL_CHARS = 2000  # a detail quotes an exception; the letter must not be refused for its headers
Headers = list[tuple[str, str | bytes | None]]
Letter = tuple[Rejected, bytes | None, Headers]


class DeadLetterError(RuntimeError):
    """The broker did not acknowledge a dead letter; the batch must not commit."""


def dead_letter_headers(rejected: Rejected) -> Headers:
    raw = rejected.raw
    headers: Headers = [
        ("cverag-dlq-reason", rejected.reason),
        ("cverag-dlq-detail", rejected.detail[:DETAIL_CHARS]),
        ("cverag-dlq-origin", f"store:{raw.topic}/{raw.partition}/{raw.offset}"),
    ]
    headers += [(name, raw.headers[name]) for name in COPIED_HEADERS if name in raw.headers]
    return headers


class DeadLetters:
    def __init__(self, settings: ConsumeSettings) -> None:
        self.topic = settings.dlq_topic
        self._config = settings.producer_config()
        self._producer: Producer | None = None

    def send(self, rejected: list[Rejected]) -> None:
        metrics.dead_lettered(item.reason for item in rejected)
        letters: list[Letter] = [(item, item.raw.value, dead_letter_headers(item)) for item in rejected]
        while letters:
            letters = [_cut(letter) for letter in self._deliver(letters)]

    def _deliver(self, letters: Sequence[Letter]) -> list[Letter]:
        """Produce and wait; returns the letters refused as too large, raises on other failures."""
        if self._producer is None:
            self._producer = Producer(self._config)
        failures: list[str] = []
        too_large: list[Letter] = []

        def report(letter: Letter) -> Callable[[KafkaError | None, Message], None]:
            def on_delivery(err: KafkaError | None, msg: Message) -> None:
                if err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    too_large.append(letter)
                elif err is not None:
                    failures.append(str(err))

            return on_delivery

        for letter in letters:
            item, value, headers = letter
            try:
                self._producer.produce(
                    self.topic, value=value, key=item.raw.key, headers=headers, on_delivery=report(letter)
                )
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                too_large.append(letter)
        remaining = self._producer.flush(60)
        if remaining or failures:
            raise DeadLetterError(f"{remaining} dead letters unacknowledged, failures: {failures[:3]}")
        return too_large


def _cut(letter: Letter) -> Letter:
    """A refused letter made smaller: its first TRUNCATED_BYTES, then a quarter of what was
    refused, at last nothing but its headers (which say what was cut)."""
    item, value, headers = letter
    if not value:
        raise DeadLetterError("the broker refused a dead letter without a value (its headers alone)")
    original = item.raw.value or b""
    if len(value) > TRUNCATED_BYTES:
        cut = value[:TRUNCATED_BYTES]
    else:
        cut = value[: len(value) // 4] if len(value) > 1024 else b""
    if len(value) == len(original):  # first cut: say what the original was
        digest = hashlib.sha256(original).hexdigest()
        headers = [
            *headers,
            ("cverag-dlq-truncated", str(len(original))),
            ("cverag-dlq-original-sha256", digest),
        ]
    return item, cut, headers
