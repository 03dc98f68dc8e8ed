"""Naming a refused Kafka login instead of reporting a timeout.

librdkafka retries a refused SASL login for ever and tells only the ``error_cb`` callback,
which runs when the client is polled; the call that was waiting merely times out.  So the
admin clients here record refusals, and a caller whose call failed asks :meth:`why` before
saying "unreachable": a wrong password is then reported as one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient


class ObservedAdmin:
    """An AdminClient that remembers the broker's refusals of its credentials."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.refusals: list[str] = []
        settings: dict[str, Any] = {**config, "error_cb": self._on_error}  # a callable: stubs omit it
        self.client = AdminClient(settings)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._AUTHENTICATION:
            self.refusals.append(error.str())

    def refused(self) -> str | None:
        """The broker's last refusal of the credentials, if any (serves pending callbacks first)."""
        self.client.poll(0)
        return self.refusals[-1] if self.refusals else None
