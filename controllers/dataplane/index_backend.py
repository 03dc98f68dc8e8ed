"""The index's door into ``workloads.index``: create, measure and drop a CveIndex's vectors.

The operator creates the index itself (before any sync pod runs) with the spec's shape: the
pgvector table with its HNSW ``m``/``ef_construction``, or the Pinecone serverless index with
the spec's cloud, region and metric.  It uses the workload's own backends and ledger, so the
names, shapes and the ledger's index name are exactly what the sync pod will find.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controllers.api.index import CveIndex
from workloads.index.backends import BackendError, IndexShapeMismatch, VectorBackend
from workloads.index.backends.pgvector_table import PgVectorBackend
from workloads.index.embedding import models
from workloads.index.ledger import Ledger
from workloads.index.settings import IndexSettings, open_backend
from workloads.store.db import StoreTarget, connect

__all__ = [
    "BackendError",
    "IndexFacts",
    "IndexSettings",
    "IndexShapeMismatch",
    "drop",
    "ensure",
    "expected_dimension",
    "facts",
]


def expected_dimension(index: CveIndex) -> tuple[int | None, str]:
    """The dimension the configured model produces, if the workloads' model registry knows it
    (a model it does not know is trusted to produce the spec's), and which model that is."""
    emb = index.spec.embedding
    if emb.provider == "local":  # the in-process provider always runs the same model
        local = models.LOCAL_MODEL
        return models.dimension(local), f"{local} (the local provider's model)"
    return models.dimension(emb.model), emb.model


def settings(index: CveIndex, conninfo: str, schema: str, api_key: str) -> IndexSettings:
    """The settings the sync pod builds from its env, built here from the spec."""
    spec = index.spec
    pc = spec.backend.pinecone
    return IndexSettings.for_store(
        StoreTarget(conninfo, schema),
        backend=spec.backend.type,
        table=spec.backend.pgvector.table,
        pinecone_index=pc.index_name if pc else "cverag",
        pinecone_namespace=pc.namespace if pc else "",
        pinecone_api_key=api_key,
        pinecone_cloud=pc.cloud if pc else "aws",
        pinecone_region=pc.region if pc else "us-east-1",
        pinecone_host=pc.host if pc else None,
        hnsw_m=spec.backend.pgvector.m,
        hnsw_ef_construction=spec.backend.pgvector.ef_construction,
    )


def _backend(found: IndexSettings) -> VectorBackend:
    return open_backend(found, ready_timeout=60)


def _close(backend: VectorBackend) -> None:
    if isinstance(backend, PgVectorBackend):
        backend.close()


def ensure(index: CveIndex, found: IndexSettings) -> None:
    """Create the vector index and the ledger if missing; IndexShapeMismatch if its shape differs."""
    metric = index.spec.backend.pinecone.metric if index.spec.backend.pinecone else "cosine"
    backend = _backend(found)
    try:
        backend.ensure(index.spec.embedding.dimension, metric)
    finally:
        _close(backend)
    ledger = Ledger(found.store, found.index_name)
    try:
        ledger.ensure()
    finally:
        ledger.close()


@dataclass(frozen=True)
class IndexFacts:
    vectors: int
    cursor: int
    synced_through: datetime | None
    lag: int


def facts(index: CveIndex, found: IndexSettings) -> IndexFacts:
    """Vectors in the backend; the ledger's cursor, the ingest time it stands for, versions after it."""
    backend = _backend(found)
    try:
        vectors = backend.count()
    finally:
        _close(backend)
    ledger = Ledger(found.store, found.index_name)
    try:
        cursor = ledger.cursor()
    finally:
        ledger.close()
    with connect(found.store, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT max(ingested_at) FROM cve_versions WHERE seq <= %s),"
            " (SELECT count(*) FROM cve_versions WHERE seq > %s)",
            [cursor, cursor],
        ).fetchone()
    through, lag = (row[0], int(row[1])) if row else (None, 0)
    return IndexFacts(vectors, cursor, through if cursor else None, lag)


def drop(index: CveIndex, found: IndexSettings) -> None:
    """``deletionPolicy: Delete``: the table or the Pinecone index, and the ledger's rows for it.

    A Pinecone index with a namespace may be shared by other stores (that is what namespaces
    are for), so only the namespace's vectors are deleted; without one, the whole index goes.
    """
    backend = _backend(found)
    try:
        if found.backend == "pinecone" and found.pinecone_namespace:
            _clear_namespace(backend)
        else:
            backend.drop()
    finally:
        _close(backend)
    with connect(found.store, autocommit=True) as conn:  # the store's schema may be gone already
        row = conn.execute(
            "SELECT to_regclass(format('%%I.index_cursors', %s::text)) IS NOT NULL", [found.store.schema]
        ).fetchone()
    if row and row[0]:
        ledger = Ledger(found.store, found.index_name)
        try:
            ledger.reset()
        finally:
            ledger.close()


def _clear_namespace(backend: VectorBackend) -> None:
    # Imported here: the Pinecone SDK is loaded only by an operator that manages a Pinecone index.
    from workloads.index.backends.pinecone_index import PineconeBackend

    assert isinstance(backend, PineconeBackend)
    backend.clear_namespace()
