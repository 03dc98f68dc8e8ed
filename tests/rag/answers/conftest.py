"""A store with real version histories for the answer tests: every row of cve-history.jsonl.gz
applied in commit order (each valid from its commit date, as the feed's observed-at header
says), a few current records from cve-records.jsonl.gz (one REJECTED), the real KEV catalog
and EPSS scores, indexed into pgvector by the real sync.  Expectations in the tests are
computed from the same files, never written down.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack import scratch
from workloads.common.records import content_hash
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.settings import IndexSettings
from workloads.index.sync import IndexSync
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.rag.settings import RagSettings
from workloads.store.db import StoreTarget
from workloads.store.enrichment import load_epss, load_kev
from workloads.store.messages import OBSERVED_AT_HEADER, RawMessage, decode
from workloads.store.migrate import migrate
from workloads.store.writer import BatchWriter

CURRENT = ("CVE-2024-3400", "CVE-2024-21893", "CVE-2025-0282")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class HistoryStore:
    target: StoreTarget
    rows: list[dict[str, Any]]  # the history file in commit order
    current: dict[str, dict[str, Any]]  # records from cve-records.jsonl.gz, by id
    kev: dict[str, dict[str, Any]]  # the KEV catalog's entries, by id
    embedder: LocalEmbedder

    def settings(self, **overrides: Any) -> RagSettings:
        index = IndexSettings.for_store(self.target, table="cve_embeddings")
        return RagSettings.for_index(index, **{"rate_limit_per_minute": 0, **overrides})

    @contextmanager
    def client(self, **overrides: Any) -> Iterator[TestClient]:
        settings = self.settings(**overrides)
        with TestClient(create_app(settings, RagService(settings, embedder=self.embedder))) as c:
            yield c

    def chain(self, cve: str) -> list[dict[str, Any]]:
        """The CVE's versions as the store must hold them: history rows, repeats collapsed."""
        out: list[dict[str, Any]] = []
        for row in self.rows:
            if row["cve_id"] == cve and (
                not out or content_hash(out[-1]["record"]) != content_hash(row["record"])
            ):
                out.append(row)
        return out


def _messages(docs: list[tuple[dict[str, Any], str | None]]) -> list[Any]:
    topic = f"test-{uuid.uuid4().hex[:8]}"
    out = []
    for offset, (doc, observed) in enumerate(docs):
        cve = doc["cveMetadata"]["cveId"]
        headers = {"cverag-source": "file", "cverag-sha256": content_hash(doc), "cverag-kind": "cve5"}
        if observed:
            headers[OBSERVED_AT_HEADER] = observed
        out.append(
            decode(RawMessage(topic, 0, offset, cve.encode(), json.dumps(doc).encode(), headers, None))
        )
    return out


def _current_records(shared: Path, history_ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    rejected = None
    with gzip.open(shared / "cve-records.jsonl.gz") as stream:
        for line in stream:
            head = line[:400]
            if any(c.encode() in head for c in CURRENT) or (rejected is None and b'"REJECTED"' in line):
                doc = json.loads(line)
                cve = doc["cveMetadata"]["cveId"]
                if cve in history_ids or (cve not in CURRENT and doc["cveMetadata"]["state"] != "REJECTED"):
                    continue
                rejected = cve if doc["cveMetadata"]["state"] == "REJECTED" else rejected
                found[cve] = doc
    return found


@pytest.fixture(scope="session")
def history_store(postgres: Any, shared_data: Path, rag_embedder: LocalEmbedder) -> Iterator[HistoryStore]:
    target = StoreTarget(postgres.dsn, f"answers_{uuid.uuid4().hex[:10]}")
    migrate(target)
    with gzip.open(shared_data / "cve-history.jsonl.gz") as stream:
        rows = sorted((json.loads(line) for line in stream), key=lambda r: when(r["commit_date"]))
    current = _current_records(shared_data, {r["cve_id"] for r in rows})
    docs = [(r["record"], r["commit_date"]) for r in rows] + [(d, None) for d in current.values()]
    writer = BatchWriter(target, "answer-tests")
    try:
        for start in range(0, len(docs), 200):
            writer.apply(_messages(docs[start : start + 200]), lambda rejected: None)
    finally:
        writer.close()
    load_kev(target, str(shared_data / "kev.json"))
    load_epss(target, str(shared_data / "epss-scores-2026-08-16.csv.gz"))
    backend = PgVectorBackend(PgVectorConfig(dsn=target.dsn, schema=target.schema))
    sync = IndexSync(target, f"pgvector:{target.schema}.cve_embeddings", rag_embedder, backend)
    assert sync.run_once().complete
    sync.close()
    backend.close()
    kev = {e["cveID"]: e for e in json.loads((shared_data / "kev.json").read_text())["vulnerabilities"]}
    yield HistoryStore(target, rows, current, kev, rag_embedder)
    scratch.drop_schema(postgres.dsn, target.schema)
