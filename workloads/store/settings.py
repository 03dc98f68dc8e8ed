"""Every setting of ``python -m workloads.store`` (and its probe), and the PostgreSQL part the
index and the RAG API share.

:class:`StoreSettings` is the environment the operator gives the store's pods; the flags of
``python -m workloads.store`` override it.  :class:`ConsumeSettings` is what one consumer
runs with, built from it.  Secrets (the DSN, libpq's password, the SASL password) are
``SecretStr`` and kept out of ``repr``/logs: :meth:`ConsumeSettings.describe` is what progress
output may show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr

from workloads.common.kafka_settings import KafkaClientSettings
from workloads.common.metrics_server import MetricsSettings
from workloads.common.settings import ProgramSettings, secret_value
from workloads.store.db import DEFAULT_SCHEMA, StoreTarget
from workloads.store.messages import DEFAULT_FUTURE_SKEW

DEFAULT_GROUP = "cverag-store"
DEFAULT_BATCH = 2000
DEFAULT_WRITERS = 2  # database connections applying a batch's partitions in parallel
DEFAULT_STOP_TIMEOUT = 45.0  # seconds after SIGTERM; the consumer Deployment's grace period is 60
_LIBPQ = "libpq's own variable, used when CVERAG_PG_DSN is unset"


class PostgresSettings(ProgramSettings):
    """Where the store lives: a DSN, or libpq's ``PG*`` variables (which libpq reads itself)."""

    pg_dsn: SecretStr | None = Field(
        default=None,
        description="libpq connection string of the store's database (from a Secret); never logged.",
    )
    pg_schema: str = Field(
        default=DEFAULT_SCHEMA, description="The store's schema (one database can hold several)."
    )
    pghost: str | None = Field(
        default=None, validation_alias="PGHOST", description=f"Database host ({_LIBPQ})."
    )
    pgport: int | None = Field(
        default=None, validation_alias="PGPORT", description=f"Database port ({_LIBPQ})."
    )
    pgdatabase: str | None = Field(
        default=None, validation_alias="PGDATABASE", description=f"Database ({_LIBPQ})."
    )
    pgsslmode: str | None = Field(
        default=None, validation_alias="PGSSLMODE", description=f"TLS mode ({_LIBPQ})."
    )
    pguser: str | None = Field(
        default=None, validation_alias="PGUSER", description=f"User, from a Secret ({_LIBPQ})."
    )
    pgpassword: SecretStr | None = Field(
        default=None,
        validation_alias="PGPASSWORD",
        description=f"Password, from a Secret ({_LIBPQ}); never logged.",
    )

    @property
    def target(self) -> StoreTarget:
        return StoreTarget(secret_value(self.pg_dsn) or "", self.pg_schema)


class StoreSettings(PostgresSettings, KafkaClientSettings, MetricsSettings):
    """The store's consumers, migrations and retention: the database, the topic, the group."""

    consumer_group: str = Field(
        default=DEFAULT_GROUP, description="Kafka consumer group of the store's consumers."
    )
    batch_size: int = Field(default=DEFAULT_BATCH, ge=1, description="Records applied per transaction.")
    store_writers: int = Field(
        default=DEFAULT_WRITERS,
        ge=1,
        description="Database connections applying a batch's partitions in parallel.",
    )
    future_skew_seconds: float = Field(
        default=DEFAULT_FUTURE_SKEW.total_seconds(),
        ge=0,
        description="How far past the time it is ingested a record's dateUpdated or observed-at"
        " is believed; later times are clamped to that bound and flagged (cve_versions.claimed_time).",
    )
    stop_timeout_seconds: float = Field(
        default=DEFAULT_STOP_TIMEOUT,
        gt=0,
        description="After SIGTERM, exit at the latest after this long even if something still hangs"
        " (below the pod's 60 s grace period; positions are in PostgreSQL, so nothing is lost).",
    )

    bulk_load: bool = Field(
        default=True,
        description="Load an empty store in bulk: its query indexes (full text, trigram, arrays) are"
        " built once the consumer has caught up, not row by row (workloads/store/bulkload.py).",
    )

    def consume_settings(self, until_idle: float | None = None) -> ConsumeSettings:
        if not self.kafka_bootstrap:
            raise ValueError("no Kafka bootstrap servers: set CVERAG_KAFKA_BOOTSTRAP or --bootstrap")
        return ConsumeSettings(
            bootstrap=self.kafka_bootstrap,
            topic=self.topic,
            group_id=self.consumer_group,
            dlq_topic=self.dead_letter_topic,
            batch_size=self.batch_size,
            writers=self.store_writers,
            until_idle=until_idle,
            security=self.kafka_security(),
            future_skew=timedelta(seconds=self.future_skew_seconds),
            stop_timeout=self.stop_timeout_seconds,
            bulk_load=self.bulk_load,
        )


def kafka_security(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """librdkafka settings for optional TLS/SASL from the ``CVERAG_KAFKA_*`` variables."""
    return StoreSettings.from_env(env).kafka_security()


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
    future_skew: timedelta = DEFAULT_FUTURE_SKEW
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    bulk_load: bool = True

    def __post_init__(self) -> None:
        self.dlq_topic = self.dlq_topic or f"{self.topic}.dlq"
        if self.batch_size < 1 or self.writers < 1:
            raise ValueError("batch size and writers must be at least 1")

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
