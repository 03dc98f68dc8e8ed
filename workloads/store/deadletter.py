"""Dead-letter delivery for messages the store will not apply (data-plane contract).

Rejected messages are produced to ``<topic>.dlq`` with the original key and bytes and the
contract headers, plus where they came from.  :meth:`DeadLetters.send` waits for the
broker's acknowledgement and raises if any delivery failed: the batch transaction commits
only after it returns, so a rejected message is never dropped silently.  A value the
broker refuses as too large is re-sent cut to ``TRUNCATED_BYTES`` with the contract's
``cverag-dlq-truncated`` header giving its real size.  A crash between
delivery and commit re-delivers it on restart (dead letters are at-least-once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from workloads.store.messages import Rejected
from workloads.store.settings import ConsumeSettings

COPIED_HEADERS = ("cverag-source", "cverag-release", "cverag-kind", "cverag-sha256")
TRUNCATED_BYTES = 512 * 1024
Headers = list[tuple[str, str | bytes | None]]


class DeadLetterError(RuntimeError):
    """The broker did not acknowledge a dead letter; the batch must not commit."""


def dead_letter_headers(rejected: Rejected) -> Headers:
    raw = rejected.raw
    headers: Headers = [
        ("cverag-dlq-reason", rejected.reason),
        ("cverag-dlq-detail", rejected.detail),
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
        too_large = self._deliver([(item, item.raw.value, dead_letter_headers(item)) for item in rejected])
        if too_large:
            cut = [
                (item, (item.raw.value or b"")[:TRUNCATED_BYTES], _truncated_headers(item))
                for item in too_large
            ]
            if self._deliver(cut):
                raise DeadLetterError("the broker refused even truncated dead letters as too large")

    def _deliver(self, letters: Sequence[tuple[Rejected, bytes | None, Headers]]) -> list[Rejected]:
        """Produce and wait; returns the letters refused as too large, raises on other failures."""
        if self._producer is None:
            self._producer = Producer(self._config)
        failures: list[str] = []
        too_large: list[Rejected] = []

        def report(item: Rejected) -> Callable[[KafkaError | None, Message], None]:
            def on_delivery(err: KafkaError | None, msg: Message) -> None:
                if err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    too_large.append(item)
                elif err is not None:
                    failures.append(str(err))

            return on_delivery

        for item, value, headers in letters:
            try:
                self._producer.produce(
                    self.topic, value=value, key=item.raw.key, headers=headers, on_delivery=report(item)
                )
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                too_large.append(item)
        remaining = self._producer.flush(60)
        if remaining or failures:
            raise DeadLetterError(f"{remaining} dead letters unacknowledged, failures: {failures[:3]}")
        return too_large


def _truncated_headers(item: Rejected) -> Headers:
    return [*dead_letter_headers(item), ("cverag-dlq-truncated", str(len(item.raw.value or b"")))]
