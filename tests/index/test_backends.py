"""Both vector backends honour the same contract: pgvector on the real PostgreSQL, Pinecone
through the real SDK against tests/fakes/pinecone_server.py (Pinecone's cloud is out of reach).

Expected results come from brute force in numpy, and the expected filter results from the
fake's independent reading of Pinecone's filter language (tests/fakes/pinecone_filter.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.fakes.pinecone_filter import matches as filter_matches
from tests.fakes.pinecone_server import FakePinecone
from workloads.index.backends import IndexShapeMismatch, Metric, VectorBackend
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.backends.pinecone_index import PineconeBackend, PineconeConfig

DIM = 64
RNG = np.random.default_rng(20240611)
VECTORS = RNG.normal(size=(300, DIM)).astype(np.float32)
IDS = [f"CVE-2024-{n:05d}" for n in range(len(VECTORS))]
METADATA: list[dict[str, Any]] = [
    {"year": 2015 + n % 10, "kev": n % 7 == 0, "cwe": [f"CWE-{79 + n % 3}", "CWE-20"], "vendor": f"v{n % 5}"}
    for n in range(len(VECTORS))
]
FILTERS: list[dict[str, Any]] = [
    {"kev": True},
    {"year": {"$gte": 2020}, "vendor": {"$in": ["v1", "v3"]}},
    {"cwe": "CWE-80"},
    {"$or": [{"kev": True}, {"year": {"$lt": 2016}}]},
    {"vendor": {"$nin": ["v0", "v1"]}, "cwe": {"$ne": "CWE-81"}},
    {"$and": [{"kev": False}, {"year": {"$lte": 2018}}]},
    {"vendor": {"$exists": True}, "year": {"$gt": 2022}},
]


def brute_force(query: np.ndarray, metric: Metric, keep: list[int] | None = None) -> list[tuple[str, float]]:
    rows = range(len(VECTORS)) if keep is None else keep
    scored = []
    for i in rows:
        v = VECTORS[i]
        if metric == "cosine":
            score = float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query)))
        elif metric == "dotproduct":
            score = float(v @ query)
        else:
            score = float(((v - query) ** 2).sum())
        scored.append((IDS[i], score))
    return sorted(scored, key=lambda s: s[1], reverse=metric != "euclidean")


@pytest.fixture(params=["pgvector", "pinecone"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of empty backends of one kind; everything it made is dropped afterwards."""
    made: list[VectorBackend] = []
    # Requested now, not inside make(), so the service outlives the drops at teardown.
    service = request.getfixturevalue("postgres" if request.param == "pgvector" else "fake_pinecone")

    def make() -> VectorBackend:
        if request.param == "pgvector":
            dsn = service.dsn
            name = f"emb_{uuid.uuid4().hex[:8]}"
            backend: VectorBackend = PgVectorBackend(
                PgVectorConfig(dsn=dsn, schema="cverag_test", table=name)
            )
        else:
            fake: FakePinecone = service
            config = PineconeConfig(
                f"cves-{uuid.uuid4().hex[:8]}", fake.api_key, "cve", control_host=fake.control_url
            )
            backend = PineconeBackend(config)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.drop()


def load(backend: VectorBackend, metric: Metric) -> None:
    backend.ensure(DIM, metric)
    items = [(i, v.tolist(), m) for i, v, m in zip(IDS, VECTORS, METADATA, strict=True)]
    assert backend.upsert(items) == len(items)


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_query_finds_the_true_neighbours_with_pinecone_scores(make_backend: Any, metric: Metric) -> None:
    backend = make_backend()
    load(backend, metric)
    assert backend.count() == len(VECTORS)
    for row in (3, 150, 299):
        query = VECTORS[row] + RNG.normal(scale=0.05, size=DIM).astype(np.float32)
        got = backend.query(query.tolist(), top_k=5)
        expected = brute_force(query, metric)[:5]
        assert got[0].id == IDS[row]
        assert [m.id for m in got] == [e[0] for e in expected]
        assert [m.score for m in got] == pytest.approx([e[1] for e in expected], rel=1e-4, abs=1e-4)
        assert got[0].metadata == METADATA[row]


@pytest.mark.parametrize("flt", FILTERS, ids=[str(f) for f in FILTERS])
def test_metadata_filters_select_what_pinecone_documents(make_backend: Any, flt: dict[str, Any]) -> None:
    backend = make_backend()
    load(backend, "cosine")
    query = RNG.normal(size=DIM).astype(np.float32)
    keep = [i for i, m in enumerate(METADATA) if filter_matches(flt, m)]
    assert 0 < len(keep) < len(METADATA)
    got = backend.query(query.tolist(), top_k=10, filter=flt)
    assert [m.id for m in got] == [e[0] for e in brute_force(query, "cosine", keep)[:10]]


def test_upsert_replaces_and_delete_removes(make_backend: Any) -> None:
    backend = make_backend()
    load(backend, "cosine")
    moved = (-VECTORS[0]).tolist()
    backend.upsert([(IDS[0], moved, {"year": 1999})])
    assert backend.count() == len(VECTORS)
    top = backend.query(moved, top_k=1)[0]
    assert (top.id, top.metadata) == (IDS[0], {"year": 1999})
    backend.delete([*IDS[:10], "CVE-1999-0000"])  # an unknown id is ignored
    assert backend.count() == len(VECTORS) - 10
    assert IDS[0] not in [m.id for m in backend.query(moved, top_k=5)]


def test_ensure_is_idempotent_and_refuses_another_shape(make_backend: Any) -> None:
    backend = make_backend()
    backend.ensure(DIM, "cosine")
    backend.ensure(DIM, "cosine")
    with pytest.raises(IndexShapeMismatch):
        backend.ensure(DIM + 1, "cosine")
    with pytest.raises(IndexShapeMismatch):
        backend.ensure(DIM, "euclidean")
    backend.drop()
    backend.drop()  # dropping a missing index is not an error
    backend.ensure(DIM + 1, "euclidean")
    assert backend.count() == 0


def test_unsupported_filter_operators_are_refused(make_backend: Any) -> None:
    backend = make_backend()
    load(backend, "cosine")
    with pytest.raises(Exception, match=r"\$regex|unsupported"):
        backend.query(VECTORS[0].tolist(), top_k=1, filter={"vendor": {"$regex": "v.*"}})
