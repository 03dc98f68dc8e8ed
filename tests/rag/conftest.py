"""Fixtures of the RAG tests: one indexed corpus per session, API clients on it, the test LLM.

The corpus is every 420th record of the shared file (150 real records, all years) plus a few
invented ones the tests own (ids CVE-2099-*), written through the store's write path and
indexed into pgvector by the real sync with the real MiniLM, once per session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack import minilm, scratch
from devstack.corpus import sample, write
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.settings import IndexSettings
from workloads.index.sync import IndexSync
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.rag.settings import RagSettings
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

EVERY = 420
ClientFactory = Callable[..., AbstractContextManager[TestClient]]


@dataclass(frozen=True)
class Corpus:
    target: StoreTarget
    records: dict[str, dict[str, Any]]
    embedder: LocalEmbedder

    def settings(self, **overrides: Any) -> RagSettings:
        index = IndexSettings.for_store(self.target, table="cve_embeddings")
        return RagSettings.for_index(index, **{"rate_limit_per_minute": 0, **overrides})


@pytest.fixture(scope="session")
def rag_embedder() -> LocalEmbedder:
    minilm.build()
    return LocalEmbedder()


@pytest.fixture(scope="session")
def corpus(postgres: Any, shared_data: Path, rag_embedder: LocalEmbedder) -> Iterator[Corpus]:
    target = StoreTarget(postgres.dsn, f"rag_{uuid.uuid4().hex[:10]}")
    migrate(target)
    docs = sample(shared_data, EVERY)
    write(target, docs)
    backend = PgVectorBackend(PgVectorConfig(dsn=target.dsn, schema=target.schema))
    sync = IndexSync(target, f"pgvector:{target.schema}.cve_embeddings", rag_embedder, backend)
    report = sync.run_once()
    assert report.complete and report.embedded == sum(
        1 for d in docs if d["cveMetadata"]["state"] != "REJECTED"
    )
    sync.close()
    backend.close()
    yield Corpus(target, {d["cveMetadata"]["cveId"]: d for d in docs}, rag_embedder)
    scratch.drop_schema(postgres.dsn, target.schema)


@pytest.fixture
def make_client(corpus: Corpus) -> ClientFactory:
    """``with make_client(api_keys=..., llm_url=...) as client:`` an app on the session corpus."""

    @contextmanager
    def factory(**overrides: Any) -> Iterator[TestClient]:
        settings = corpus.settings(**overrides)
        app = create_app(settings, RagService(settings, embedder=corpus.embedder))
        with TestClient(app) as client:
            yield client

    return factory


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[TestClient]:
    with make_client() as c:
        yield c
