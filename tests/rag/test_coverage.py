"""Answers say how much of the store the vector index holds (the API serves while it fills).

A store of its own (a few dozen real records), so the index can be empty, partial, complete
and then behind again; the figures are checked against what the sync itself reported.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack import scratch
from devstack.corpus import edited, sample, write
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.settings import IndexSettings
from workloads.index.sync import IndexSync
from workloads.rag.api import create_app
from workloads.rag.coverage import IndexCoverage, read_coverage
from workloads.rag.service import RagService, open_pool
from workloads.rag.settings import RagSettings
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

TABLE = "coverage_embeddings"


@pytest.fixture
def store(postgres: Any, shared_data: Path) -> Iterator[tuple[StoreTarget, list[dict[str, Any]]]]:
    target = StoreTarget(postgres.dsn, f"cov_{uuid.uuid4().hex[:10]}")
    migrate(target)
    docs = sample(shared_data, 2500)
    write(target, docs)
    yield target, docs
    scratch.drop_schema(postgres.dsn, target.schema)


def _settings(target: StoreTarget) -> RagSettings:
    return RagSettings.for_index(IndexSettings.for_store(target, table=TABLE), rate_limit_per_minute=0)


def _coverage(target: StoreTarget) -> IndexCoverage:
    settings = _settings(target)
    with open_pool(settings) as pool:
        return read_coverage(pool, settings.index.index_name)


def _sync(target: StoreTarget, embedder: LocalEmbedder, **run: Any) -> int:
    backend = PgVectorBackend(PgVectorConfig(dsn=target.dsn, schema=target.schema, table=TABLE))
    sync = IndexSync(target, _settings(target).index.index_name, embedder, backend, batch_size=8)
    try:
        return sync.run_once(**run).embedded
    finally:
        sync.close()
        backend.close()


def _published(docs: list[dict[str, Any]]) -> int:
    return sum(1 for d in docs if d["cveMetadata"]["state"] != "REJECTED")


def test_search_and_ask_report_an_index_that_never_ran_as_empty(
    store: tuple[StoreTarget, list[dict[str, Any]]], rag_embedder: LocalEmbedder
) -> None:
    target, docs = store
    settings = _settings(target)
    app = create_app(settings, RagService(settings, embedder=rag_embedder))
    with TestClient(app) as client:
        searched = client.post("/v1/search", json={"query": "buffer overflow"}).json()
        asked = client.post("/v1/ask", json={"question": "buffer overflow"}).json()
    expected = {"indexed": 0, "records": _published(docs), "complete": False}
    assert searched["index"] == expected
    assert asked["index"] == expected


def test_coverage_follows_the_sync_from_partial_to_complete_and_behind_again(
    store: tuple[StoreTarget, list[dict[str, Any]]], rag_embedder: LocalEmbedder
) -> None:
    target, docs = store
    first = _sync(target, rag_embedder, limit=8)
    partial = _coverage(target)
    assert partial == IndexCoverage(indexed=first, records=_published(docs), complete=False)
    assert 0 < first < _published(docs)

    _sync(target, rag_embedder)
    assert _coverage(target) == IndexCoverage(
        indexed=_published(docs), records=_published(docs), complete=True
    )

    changed = next(d for d in docs if d["cveMetadata"]["state"] != "REJECTED")
    write(target, [edited(changed, description="A new description the index has not seen.")])
    behind = _coverage(target)
    assert behind == IndexCoverage(indexed=_published(docs), records=_published(docs), complete=False)


def test_a_streamed_answer_s_done_event_carries_the_coverage(
    store: tuple[StoreTarget, list[dict[str, Any]]], rag_embedder: LocalEmbedder
) -> None:
    target, docs = store
    _sync(target, rag_embedder)
    settings = _settings(target)
    app = create_app(settings, RagService(settings, embedder=rag_embedder))
    with TestClient(app) as client:
        body = client.post("/v1/ask", json={"question": "buffer overflow", "stream": True}).text
    done = json.loads(body.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["index"] == {"indexed": _published(docs), "records": _published(docs), "complete": True}
