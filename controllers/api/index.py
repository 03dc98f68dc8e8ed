"""CveIndex: a vector index kept in sync with a CveStore."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from controllers.api.common import (
    BaseStatus,
    CrdModel,
    DeletionPolicy,
    Duration,
    Kind,
    LocalRef,
    NetworkPolicies,
    Resources,
    SecretKeyRef,
    cel,
    column,
    immutable,
)
from controllers.api.store import Cron
from controllers.api.version import IMAGE


class Embedding(CrdModel):
    """The model that turns CVE text into vectors."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.provider != 'tei' || has(self.endpoint)", "embedding.provider tei needs endpoint"),
            ]
        }
    )

    provider: Literal["local", "huggingface", "tei"] = "local"
    """local runs the model in the sync pod; huggingface calls the HF Inference API; tei calls a
    text-embeddings-inference server."""
    model: Annotated[str, Field(min_length=1, max_length=256)] = "sentence-transformers/all-MiniLM-L6-v2"
    """Hugging Face model id."""
    dimension: Annotated[int, Field(ge=1, le=20000, json_schema_extra=immutable("embedding.dimension"))] = 384
    """Vector dimension the model produces; must match the model (all-MiniLM-L6-v2: 384)."""
    endpoint: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")] | None = None
    """Base URL of the TEI server or a dedicated HF Inference Endpoint."""
    token_secret_ref: SecretKeyRef | None = None
    """Hugging Face token, for gated models and the Inference API."""


class PgVector(CrdModel):
    """A pgvector table with an HNSW index in the store's database."""

    table: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z_][a-z0-9_]*$")] = (
        "cve_embeddings"
    )
    """Table name inside the store's schema."""
    m: Annotated[int, Field(ge=2, le=100)] = 16
    """HNSW m: links per node; more is more accurate and larger."""
    ef_construction: Annotated[int, Field(ge=4, le=1000)] = 64
    """HNSW ef_construction: build-time candidate list size."""


class Pinecone(CrdModel):
    """A Pinecone serverless index."""

    index_name: Annotated[str, Field(min_length=1, max_length=45, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    """Pinecone index name."""
    cloud: Literal["aws", "gcp", "azure"] = "aws"
    """Cloud of the serverless index."""
    region: Annotated[str, Field(min_length=1, max_length=63)] = "us-east-1"
    """Region of the serverless index."""
    metric: Literal["cosine", "dotproduct", "euclidean"] = "cosine"
    """Similarity metric."""
    namespace: Annotated[str, Field(max_length=512)] = ""
    """Namespace inside the index; lets several stores share one index."""
    api_key_secret_ref: SecretKeyRef
    """The Pinecone API key."""
    host: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")] | None = None
    """Control-plane URL override (private endpoints, tests)."""


class Backend(CrdModel):
    """Where vectors live."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.type != 'pinecone' || has(self.pinecone)",
                    "backend.type pinecone needs backend.pinecone",
                ),
            ]
        }
    )

    type: Annotated[Literal["pgvector", "pinecone"], Field(json_schema_extra=immutable("backend.type"))] = (
        "pgvector"
    )
    """pgvector (in the store's PostgreSQL) or pinecone."""
    pgvector: PgVector = Field(default_factory=PgVector)
    """Settings of the pgvector backend."""
    pinecone: Pinecone | None = None
    """Settings of the Pinecone backend."""


class Sync(CrdModel):
    """How the index follows the store."""

    interval: Duration = "1m"
    """Pause between incremental sync passes of the long-running sync Deployment."""
    schedule: Cron | None = None
    """Cron schedule (e.g. "*/15 * * * *" or "@hourly"); when set, sync runs as a CronJob of one
    pass each instead of a Deployment (for stores that change rarely)."""
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 256
    """Documents embedded and upserted per batch."""
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests={"cpu": "500m", "memory": "512Mi"}, limits={"memory": "2Gi"}
        )
    )
    """Resources of the sync pod (the local model runs there)."""


class CveIndexSpec(CrdModel):
    """Desired state of a vector index over a store."""

    store_ref: Annotated[LocalRef, Field(json_schema_extra=immutable("storeRef"))]
    """The CveStore to index."""
    embedding: Embedding = Field(default_factory=Embedding)
    """The embedding model."""
    backend: Backend = Field(default_factory=Backend)
    """The vector backend."""
    sync: Sync = Field(default_factory=Sync)
    """Sync cadence and batching."""
    image: Annotated[str, Field(min_length=1, max_length=512)] = IMAGE
    """Container image with the cverag workloads; by default this release's own image."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain keeps the vectors when the CveIndex is deleted; Delete drops the table or index."""
    network_policy: NetworkPolicies = Field(default_factory=NetworkPolicies)
    """Network policies of the sync pods (they reach PostgreSQL, HTTPS embedding/Pinecone endpoints and DNS)."""


class CveIndexStatus(BaseStatus):
    """Observed state of a vector index."""

    vectors: int | None = None
    """Vectors in the index."""
    synced_through: str | None = None
    """Store ingest time up to which every change is indexed."""
    lag: int | None = None
    """Store versions not yet indexed."""
    backend: str | None = None
    """Backend in use."""


class CveIndex(Kind):
    """A vector index over a CveStore, kept in sync incrementally."""

    kind = "CveIndex"
    plural = "cveindexes"
    short_names = ("cveidx", "cveindex")
    extra_columns = (
        column("Store", ".spec.storeRef.name"),
        column("Backend", ".spec.backend.type"),
        column("Vectors", ".status.vectors", "integer"),
        column("Lag", ".status.lag", "integer"),
    )

    spec: CveIndexSpec
    status: CveIndexStatus = Field(default_factory=CveIndexStatus)
