"""Every setting of ``python -m workloads.index`` (and the RAG API's view of the same index).

:class:`IndexSettings` is the environment the operator sets on the sync Deployment/CronJob
and on the RAG API (docs/configuration.md lists it): the store the index follows
(:class:`~workloads.store.settings.PostgresSettings`; the pgvector table and the ledger live
in its schema), the backend (pgvector or Pinecone) with its shape, and the embedder
(:class:`~workloads.index.embedding.settings.EmbeddingSettings`).  Code that holds a
:class:`StoreTarget` rather than an environment builds them with :meth:`IndexSettings.for_store`.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, SecretStr, model_validator

from workloads.common.metrics_server import MetricsSettings
from workloads.common.settings import secret_value
from workloads.index.backends import Metric, VectorBackend
from workloads.index.embedding.settings import EmbeddingSettings
from workloads.store.db import StoreTarget
from workloads.store.settings import PostgresSettings

BACKENDS = ("pgvector", "pinecone")


class IndexSettings(PostgresSettings, EmbeddingSettings, MetricsSettings):
    """Where the vectors live and how they are made."""

    backend: Literal["pgvector", "pinecone"] = Field(
        default="pgvector", validation_alias="CVERAG_INDEX_BACKEND", description="Vector backend."
    )
    table: str = Field(
        default="cve_embeddings",
        validation_alias="CVERAG_INDEX_TABLE",
        description="pgvector table (in the store's schema).",
    )
    metric: Metric = Field(
        default="cosine",
        validation_alias="CVERAG_INDEX_METRIC",
        description="Distance metric; must match the one the index was created with.",
    )
    hnsw_m: int = Field(
        default=16,
        validation_alias="CVERAG_INDEX_HNSW_M",
        description="HNSW `m` of a pgvector index this creates.",
    )
    hnsw_ef_construction: int = Field(
        default=64,
        validation_alias="CVERAG_INDEX_HNSW_EF_CONSTRUCTION",
        description="HNSW `ef_construction` of a pgvector index this creates.",
    )
    pinecone_api_key: SecretStr | None = Field(
        default=None,
        description="Pinecone API key (from a Secret; required by the pinecone backend); never logged.",
    )
    pinecone_index: str = Field(default="cverag", description="Pinecone index name.")
    pinecone_namespace: str = Field(default="", description="Pinecone namespace inside the index.")
    pinecone_cloud: str = Field(
        default="aws", description="Cloud of a serverless Pinecone index this creates."
    )
    pinecone_region: str = Field(
        default="us-east-1", description="Region of a serverless Pinecone index this creates."
    )
    pinecone_host: str | None = Field(default=None, description="A non-default Pinecone control plane URL.")
    batch_size: int = Field(
        default=512,
        ge=1,
        validation_alias="CVERAG_INDEX_BATCH_SIZE",
        description="CVEs per embed/upsert round of a sync; large, because the local embedder "
        "sorts a round's texts by length so its batches pad little (32 per round ran at half the speed).",
    )

    @classmethod
    def for_store(cls, store: StoreTarget, **fields: Any) -> Self:
        """The settings of an index that follows ``store`` (code that holds a target, not an env)."""
        return cls(pg_dsn=SecretStr(store.dsn) if store.dsn else None, pg_schema=store.schema, **fields)

    @model_validator(mode="after")
    def _pinecone_key(self) -> IndexSettings:
        if self.backend == "pinecone" and not secret_value(self.pinecone_api_key):
            raise ValueError("the pinecone backend needs CVERAG_PINECONE_API_KEY")
        return self

    @property
    def store(self) -> StoreTarget:
        return self.target

    @property
    def index_name(self) -> str:
        """How the ledger names this index: backend and location."""
        if self.backend == "pinecone":
            return f"pinecone:{self.pinecone_index}/{self.pinecone_namespace}"
        return f"pgvector:{self.store.schema}.{self.table}"


def open_backend(settings: IndexSettings, ready_timeout: int = 300) -> VectorBackend:
    """The configured backend (not yet ``ensure``d); ``ready_timeout`` bounds the wait for a
    new Pinecone index to become ready."""
    if settings.backend == "pinecone":
        from workloads.index.backends.pinecone_index import PineconeBackend, PineconeConfig

        return PineconeBackend(
            PineconeConfig(
                index_name=settings.pinecone_index,
                api_key=secret_value(settings.pinecone_api_key) or "",
                namespace=settings.pinecone_namespace,
                cloud=settings.pinecone_cloud,
                region=settings.pinecone_region,
                control_host=settings.pinecone_host,
                ready_timeout=ready_timeout,
            )
        )
    from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig

    return PgVectorBackend(
        PgVectorConfig(
            dsn=settings.store.dsn,
            schema=settings.store.schema,
            table=settings.table,
            hnsw_m=settings.hnsw_m,
            hnsw_ef_construction=settings.hnsw_ef_construction,
        )
    )
