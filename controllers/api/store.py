"""CveStore: a versioned PostgreSQL store consuming a CveFeed's topic."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from controllers.api.common import (
    BaseStatus,
    CrdModel,
    DeletionPolicy,
    Kind,
    LocalRef,
    NetworkPolicies,
    Resources,
    SecretKeyRef,
    SecretRef,
    cel,
    column,
    immutable,
)

SchemaName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z_][a-z0-9_]*$")]
# A five-field cron expression or a macro such as @daily.
Cron = Annotated[
    str,
    Field(
        max_length=100, pattern=r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"
    ),
]


class Postgres(CrdModel):
    """How to reach PostgreSQL: either a DSN from a Secret, or host and credentials."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.dsnSecretRef) != has(self.host)",
                    "postgres needs exactly one of dsnSecretRef or host",
                ),
                cel(
                    "!has(self.host) || has(self.credentialsSecretRef)",
                    "postgres.host needs credentialsSecretRef (a Secret with username and password)",
                ),
            ]
        }
    )

    dsn_secret_ref: SecretKeyRef | None = None
    """A Secret key holding a full libpq connection string (postgresql://user:pass@host/db)."""
    host: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    """Server host name."""
    port: Annotated[int, Field(ge=1, le=65535)] = 5432
    """Server port."""
    database: Annotated[str, Field(min_length=1, max_length=63)] = "cverag"
    """Database name."""
    credentials_secret_ref: SecretRef | None = None
    """Secret with keys username and password."""
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    """libpq sslmode."""
    schema_: Annotated[SchemaName, Field(alias="schema", json_schema_extra=immutable("postgres.schema"))] = (
        "cverag"
    )
    """Schema holding this store's tables; one database can hold several stores."""


class Consumer(CrdModel):
    """The consumer Deployment that writes the topic into PostgreSQL."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.minReplicas <= self.maxReplicas", "consumer.minReplicas must not exceed maxReplicas"
                )
            ]
        }
    )

    group: Annotated[str, Field(min_length=1, max_length=249)] | None = None
    """Kafka consumer group; defaults to cverag-store-<namespace>-<name>."""
    min_replicas: Annotated[int, Field(ge=1, le=100)] = 1
    """Fewest consumer pods."""
    max_replicas: Annotated[int, Field(ge=1, le=100)] = 3
    """Most consumer pods; more than the topic's partitions would sit idle."""
    batch_size: Annotated[int, Field(ge=1, le=100000)] = 2000
    """Records written per PostgreSQL transaction."""
    target_cpu_utilization: Annotated[int, Field(ge=1, le=100)] = 70
    """HPA target average CPU utilisation in percent."""
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests={"cpu": "250m", "memory": "256Mi"}, limits={"memory": "1Gi"}
        )
    )
    """Resources of each consumer pod."""


class Versioning(CrdModel):
    """Which earlier versions of each CVE are kept, and snapshots of the store."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.keep != 'Last' || has(self.lastN)", "versioning.keep Last needs lastN"),
            ]
        }
    )

    keep: Literal["All", "Last"] = "All"
    """All keeps every version; Last keeps only the newest lastN per CVE."""
    last_n: Annotated[int, Field(ge=1, le=100000)] | None = None
    """With keep Last: how many versions per CVE are kept."""
    retain_days: Annotated[int, Field(ge=1)] | None = None
    """Also drop superseded versions older than this many days (the current version always stays)."""
    snapshot_schedule: Cron | None = None
    """Cron schedule of named snapshots (labels for as-of queries), e.g. @daily."""


class CveStoreSpec(CrdModel):
    """Desired state of a versioned CVE store."""

    feed_ref: Annotated[LocalRef, Field(json_schema_extra=immutable("feedRef"))]
    """The CveFeed whose topic this store consumes."""
    postgres: Postgres
    """The PostgreSQL database and schema."""
    consumer: Consumer = Field(default_factory=Consumer)
    """The consumer Deployment."""
    versioning: Versioning = Field(default_factory=Versioning)
    """Version retention and snapshots."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain keeps the schema when the CveStore is deleted; Delete drops it."""
    network_policy: NetworkPolicies = Field(default_factory=NetworkPolicies)
    """Network policies of the store's pods (consumers reach only Kafka, PostgreSQL and DNS)."""


class CveStoreStatus(BaseStatus):
    """Observed state of a versioned CVE store."""

    schema_version: int | None = None
    """Newest migration applied to the schema."""
    records: int | None = None
    """CVEs in the store (current versions)."""
    versions: int | None = None
    """Versions in the store, current and earlier."""
    consumer_lag: int | None = None
    """Records in the topic not yet stored, summed over partitions."""
    last_ingest_time: str | None = None
    """When the consumer last wrote a batch."""
    ready_replicas: int | None = None
    """Consumer pods ready."""


class CveStore(Kind):
    """A versioned CVE store: current state of every CVE plus every earlier version."""

    kind = "CveStore"
    plural = "cvestores"
    short_names = ("cvestore",)
    extra_columns = (
        column("Feed", ".spec.feedRef.name"),
        column("Records", ".status.records", "integer"),
        column("Versions", ".status.versions", "integer"),
        column("Lag", ".status.consumerLag", "integer"),
        column("Schema", ".status.schemaVersion", "integer", priority=1),
        column("Consumers", ".status.readyReplicas", "integer", priority=1),
    )

    spec: CveStoreSpec
    status: CveStoreStatus = Field(default_factory=CveStoreStatus)
