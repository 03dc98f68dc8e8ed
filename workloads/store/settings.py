"""Consumer settings: flags mirror the environment the operator passes (data-plane contract).

Secrets (the SASL password) come from the environment only and are kept out of
``repr``/logs: :meth:`ConsumeSettings.describe` is what progress output may show.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_GROUP = "cverag-store"
DEFAULT_TOPIC = "cverag.records"  # the feed's default
DEFAULT_BATCH = 2000
DEFAULT_WRITERS = 2  # database connections applying a batch's partitions in parallel


def kafka_security(env: dict[str, str] | None = None) -> dict[str, str]:
    """librdkafka settings for optional TLS/SASL from ``CVERAG_KAFKA_*`` variables."""
    source = os.environ if env is None else env
    mapping = {
        "CVERAG_KAFKA_SECURITY_PROTOCOL": "security.protocol",
        "CVERAG_KAFKA_SASL_MECHANISM": "sasl.mechanism",
        "CVERAG_KAFKA_SASL_USERNAME": "sasl.username",
        "CVERAG_KAFKA_SASL_PASSWORD": "sasl.password",
    }
    return {conf: source[var] for var, conf in mapping.items() if source.get(var)}


@dataclass
class ConsumeSettings:
    bootstrap: str
    topic: str
    group_id: str = DEFAULT_GROUP
    dlq_topic: str = ""
    batch_size: int = DEFAULT_BATCH
    writers: int = DEFAULT_WRITERS
    until_idle: float | None = None
    progress_every: float = 2.0
    security: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.dlq_topic = self.dlq_topic or f"{self.topic}.dlq"
        if self.batch_size < 1 or self.writers < 1:
            raise ValueError("batch size and writers must be at least 1")

    @classmethod
    def from_env(cls, **overrides: Any) -> ConsumeSettings:
        """Environment first, explicit (non-None) flag values override it."""
        env = os.environ
        values: dict[str, Any] = {
            "bootstrap": env.get("CVERAG_KAFKA_BOOTSTRAP", ""),
            "topic": env.get("CVERAG_TOPIC", DEFAULT_TOPIC),
            "group_id": env.get("CVERAG_CONSUMER_GROUP", DEFAULT_GROUP),
            "dlq_topic": env.get("CVERAG_DLQ_TOPIC", ""),
            "batch_size": int(env.get("CVERAG_BATCH_SIZE", DEFAULT_BATCH)),
            "writers": int(env.get("CVERAG_STORE_WRITERS", DEFAULT_WRITERS)),
            "security": kafka_security(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["bootstrap"]:
            raise ValueError("no Kafka bootstrap servers: set CVERAG_KAFKA_BOOTSTRAP or --bootstrap")
        return cls(**values)

    def consumer_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # Prefetch a few batches, not the topic.  librdkafka bounds its queue per partition
            # by *compressed* size, and zstd-compressed records inflate ~8x, so the byte bound
            # alone let 3 partitions hold ~600 MB; the message-count bound is what holds.
            "max.partition.fetch.bytes": 4 << 20,
            "fetch.max.bytes": 16 << 20,
            "queued.max.messages.kbytes": 8 << 10,
            "queued.min.messages": max(2 * self.batch_size, 1000),
            "max.poll.interval.ms": 900_000,
            **self.security,
        }

    def producer_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap,
            "enable.idempotence": True,
            "message.max.bytes": 32 << 20,
            **self.security,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "bootstrap": self.bootstrap,
            "topic": self.topic,
            "group": self.group_id,
            "dlq": self.dlq_topic,
            "batch_size": self.batch_size,
            "writers": self.writers,
        }
