"""Configuration of the index workload (and the RAG API's view of the same index), from env.

Variables (the operator sets them on the sync Deployment and on the RAG API):

* ``CVERAG_PG_DSN`` or the libpq ``PG*`` variables; ``CVERAG_PG_SCHEMA`` (default ``cverag``):
  the store the index follows.  The pgvector table and the ledger live in that schema.
* ``CVERAG_INDEX_BACKEND``: ``pgvector`` (default) or ``pinecone``.
* ``CVERAG_INDEX_TABLE``: the pgvector table (default ``cve_embeddings``).
* ``CVERAG_INDEX_HNSW_M`` / ``CVERAG_INDEX_HNSW_EF_CONSTRUCTION``: HNSW parameters of a
  pgvector index this workload creates (defaults 16 / 64; the operator passes the CveIndex's).
* ``CVERAG_INDEX_METRIC``: ``cosine`` (default), ``dotproduct`` or ``euclidean``; must match
  the metric the index was created with (the operator passes the CveIndex's Pinecone metric).
* ``CVERAG_PINECONE_API_KEY`` (from a Secret), ``CVERAG_PINECONE_INDEX`` (default
  ``cverag``), ``CVERAG_PINECONE_NAMESPACE``, ``CVERAG_PINECONE_CLOUD`` / ``_REGION``
  (serverless placement) and ``CVERAG_PINECONE_HOST`` (a non-default control plane).
* ``CVERAG_EMBEDDING_PROVIDER`` / ``_MODEL`` / ``_URL`` / ``_DIMENSION`` / ``_BATCH_SIZE`` /
  ``_TIMEOUT`` and ``CVERAG_HF_TOKEN`` / ``CVERAG_TEI_TOKEN``: see
  :func:`workloads.index.embedding.config_from_env`.  ``CVERAG_EMBEDDING_ENDPOINT`` is
  accepted as another name for ``CVERAG_EMBEDDING_URL``.
* ``CVERAG_INDEX_BATCH_SIZE``: CVEs per embed/upsert round (default 64).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from workloads.index.backends import Metric, VectorBackend, check_metric
from workloads.index.embedding import EmbeddingConfig, config_from_env
from workloads.store.db import StoreTarget

BACKENDS = ("pgvector", "pinecone")


@dataclass(frozen=True)
class IndexSettings:
    store: StoreTarget
    backend: str = "pgvector"
    table: str = "cve_embeddings"
    metric: Metric = "cosine"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    pinecone_index: str = "cverag"
    pinecone_namespace: str = ""
    pinecone_api_key: str = field(default="", repr=False)
    pinecone_cloud: str = "aws"
    pinecone_region: str = "us-east-1"
    pinecone_host: str | None = None
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"CVERAG_INDEX_BACKEND must be one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "pinecone" and not self.pinecone_api_key:
            raise ValueError("the pinecone backend needs CVERAG_PINECONE_API_KEY")

    @property
    def index_name(self) -> str:
        """How the ledger names this index: backend and location."""
        if self.backend == "pinecone":
            return f"pinecone:{self.pinecone_index}/{self.pinecone_namespace}"
        return f"pgvector:{self.store.schema}.{self.table}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> IndexSettings:
        env = os.environ if env is None else env
        if env.get("CVERAG_EMBEDDING_ENDPOINT") and not env.get("CVERAG_EMBEDDING_URL"):
            env = {**env, "CVERAG_EMBEDDING_URL": env["CVERAG_EMBEDDING_ENDPOINT"]}
        values: dict[str, object] = {
            "store": StoreTarget(env.get("CVERAG_PG_DSN", ""), env.get("CVERAG_PG_SCHEMA", "cverag")),
            "backend": env.get("CVERAG_INDEX_BACKEND", "pgvector"),
            "table": env.get("CVERAG_INDEX_TABLE", "cve_embeddings"),
            "metric": check_metric(env.get("CVERAG_INDEX_METRIC", "cosine")),
            "hnsw_m": int(env.get("CVERAG_INDEX_HNSW_M", "16")),
            "hnsw_ef_construction": int(env.get("CVERAG_INDEX_HNSW_EF_CONSTRUCTION", "64")),
            "pinecone_index": env.get("CVERAG_PINECONE_INDEX", "cverag"),
            "pinecone_namespace": env.get("CVERAG_PINECONE_NAMESPACE", ""),
            "pinecone_api_key": env.get("CVERAG_PINECONE_API_KEY", ""),
            "pinecone_cloud": env.get("CVERAG_PINECONE_CLOUD", "aws"),
            "pinecone_region": env.get("CVERAG_PINECONE_REGION", "us-east-1"),
            "pinecone_host": env.get("CVERAG_PINECONE_HOST") or None,
            "embedding": config_from_env(env),
            "batch_size": int(env.get("CVERAG_INDEX_BATCH_SIZE", "64")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def open_backend(settings: IndexSettings, ready_timeout: int = 300) -> VectorBackend:
    """The configured backend (not yet ``ensure``d); ``ready_timeout`` bounds the wait for a
    new Pinecone index to become ready."""
    if settings.backend == "pinecone":
        from workloads.index.backends.pinecone_index import PineconeBackend, PineconeConfig

        return PineconeBackend(
            PineconeConfig(
                index_name=settings.pinecone_index,
                api_key=settings.pinecone_api_key,
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
