"""The incremental index sync against a real store, with both backends.

pgvector is the real extension in the test PostgreSQL; Pinecone is the real SDK against the
local server speaking its API (tests/fakes/pinecone_server.py).  The embedder is the real
in-process MiniLM, wrapped only to count what it is asked to embed: "embeds nothing" is
then a fact about the model calls, not about a report field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from devstack.corpus import edited, sample, write
from tests.fakes.pinecone_server import FakePinecone
from workloads.index.backends import VectorBackend
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.backends.pinecone_index import PineconeBackend, PineconeConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.sync import IndexSync
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres]


class CountingEmbedder:
    """The real embedder; remembers every text it embedded."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def model(self) -> str:
        return self.inner.model

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture
def store(postgres: Any) -> Iterator[StoreTarget]:
    target = StoreTarget(postgres.dsn, f"idx_{uuid.uuid4().hex[:10]}")
    migrate(target)
    yield target
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target.schema)))


@pytest.fixture(scope="module")
def records(shared_data: Path) -> list[dict[str, Any]]:
    return sample(shared_data, every=6000)  # 11 real records from 1999 to 2025


@pytest.fixture(params=["pgvector", "pinecone"])
def backend(request: pytest.FixtureRequest, store: StoreTarget) -> Iterator[tuple[str, VectorBackend]]:
    if request.param == "pgvector":
        pg = PgVectorBackend(PgVectorConfig(dsn=store.dsn, schema=store.schema, table="cve_embeddings"))
        yield f"pgvector:{store.schema}.cve_embeddings", pg
        pg.close()
        return
    with FakePinecone() as fake:
        config = PineconeConfig("cve-index", fake.api_key, control_host=fake.control_url)
        yield "pinecone:cve-index/", PineconeBackend(config)


def _sync(store: StoreTarget, named: tuple[str, VectorBackend], embedder: CountingEmbedder) -> IndexSync:
    return IndexSync(store, named[0], embedder, named[1], batch_size=4)


def test_second_run_embeds_nothing(
    store: StoreTarget,
    backend: tuple[str, VectorBackend],
    records: list[dict[str, Any]],
    local_embedder: LocalEmbedder,
) -> None:
    write(store, records)
    embedder = CountingEmbedder(local_embedder)
    sync = _sync(store, backend, embedder)
    first = sync.run_once()
    assert (first.selected, first.embedded, first.complete) == (len(records), len(records), True)
    assert backend[1].count() == first.vectors == len(embedder.texts)
    embedder.texts.clear()
    second = sync.run_once()
    assert (second.selected, second.embedded, embedder.texts) == (0, 0, [])
    assert second.cursor_from == first.cursor_to > 0


def test_only_changed_text_is_embedded_again(
    store: StoreTarget,
    backend: tuple[str, VectorBackend],
    records: list[dict[str, Any]],
    local_embedder: LocalEmbedder,
) -> None:
    write(store, records)
    embedder = CountingEmbedder(local_embedder)
    sync = _sync(store, backend, embedder)
    sync.run_once()
    embedder.texts.clear()
    new_text = (
        "A stack overflow in the zebra-striped quilting pattern parser of Quiltmaker allows code execution."
    )
    write(
        store,
        [
            edited(records[0], description=new_text),
            edited(records[1], references=[{"url": "https://example.org/advisory"}]),
        ],
    )
    report = sync.run_once()
    assert (report.selected, report.embedded, report.unchanged) == (2, 1, 1)
    assert len(embedder.texts) == 1 and new_text in embedder.texts[0]
    best = backend[1].query(local_embedder.embed([new_text])[0], 1)[0]
    assert best.id == records[0]["cveMetadata"]["cveId"]


def test_rejected_records_leave_the_index(
    store: StoreTarget,
    backend: tuple[str, VectorBackend],
    records: list[dict[str, Any]],
    local_embedder: LocalEmbedder,
) -> None:
    write(store, records)
    sync = _sync(store, backend, CountingEmbedder(local_embedder))
    sync.run_once()
    victim = records[2]["cveMetadata"]["cveId"]
    write(store, [edited(records[2], state="REJECTED")])
    report = sync.run_once()
    assert (report.deleted, report.embedded) == (1, 0)
    assert backend[1].count() == len(records) - 1
    assert victim not in {m.id for m in backend[1].query(local_embedder.embed([victim])[0], len(records))}


def test_long_text_is_chunked_and_surplus_chunks_are_removed(
    store: StoreTarget,
    backend: tuple[str, VectorBackend],
    records: list[dict[str, Any]],
    local_embedder: LocalEmbedder,
) -> None:
    long_text = " ".join(
        f"Sentence {n} describes one more consequence of the heap overflow." for n in range(60)
    )
    write(store, [edited(records[3], description=long_text)])
    sync = _sync(store, backend, CountingEmbedder(local_embedder))
    first = sync.run_once()
    assert first.vectors >= 3 and backend[1].count() == first.vectors
    write(store, [edited(records[3], description="Now a short description of a heap overflow.")])
    second = sync.run_once()
    assert (second.embedded, second.vectors, backend[1].count()) == (1, 1, 1)


def test_forgotten_cursor_costs_no_embedding(
    store: StoreTarget, records: list[dict[str, Any]], local_embedder: LocalEmbedder
) -> None:
    write(store, records)
    pg = PgVectorBackend(PgVectorConfig(dsn=store.dsn, schema=store.schema))
    embedder = CountingEmbedder(local_embedder)
    sync = _sync(store, (f"pgvector:{store.schema}.cve_embeddings", pg), embedder)
    sync.run_once(limit=4)
    assert sync.ledger.cursor() == 0, "a pass stopped by its limit must not move the cursor"
    rest = sync.run_once()
    assert rest.complete and rest.unchanged >= 4 and rest.embedded == len(records) - rest.unchanged
    sync.ledger.set_cursor(0, embedder.model)
    embedder.texts.clear()
    again = sync.run_once()
    assert (again.selected, again.embedded, again.unchanged, embedder.texts) == (
        len(records),
        0,
        len(records),
        [],
    )
    pg.close()


def test_command_line_sync_prints_a_summary(store: StoreTarget, records: list[dict[str, Any]]) -> None:
    write(store, records[:3])
    env = {
        **os.environ,
        "CVERAG_PG_DSN": store.dsn,
        "CVERAG_PG_SCHEMA": store.schema,
        "PYTHONPATH": str(REPO),
    }
    runs = [
        subprocess.run(
            [sys.executable, "-m", "workloads.index", "sync", "--once"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        for _ in range(2)
    ]
    summaries = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    assert [(s["event"], s["embedded"], s["complete"]) for s in summaries] == [
        ("summary", 3, True),
        ("summary", 0, True),
    ]


@pytest.mark.parametrize("metric", ["dotproduct", "euclidean"])
def test_sync_follows_a_pinecone_index_created_with_another_metric(
    store: StoreTarget, records: list[dict[str, Any]], local_embedder: LocalEmbedder, metric: str
) -> None:
    """The operator creates Pinecone indexes with the CveIndex's metric and passes it on
    (CVERAG_INDEX_METRIC); the sync must accept that index rather than insist on cosine."""
    write(store, records)
    with FakePinecone() as fake:
        backend = PineconeBackend(PineconeConfig("cve-metric", fake.api_key, control_host=fake.control_url))
        backend.ensure(local_embedder.dimension, metric)  # type: ignore[arg-type]  # as the operator does
        sync = IndexSync(store, "pinecone:cve-metric/", local_embedder, backend, 4, metric)  # type: ignore[arg-type]
        report = sync.run_once()
        assert report.embedded == len(records) and backend.count() == len(records)
