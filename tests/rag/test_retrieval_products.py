"""Product questions against a real store: aliases from the records, the product's CVEs first
(never interleaved with fuzzy neighbours), why each hit matched, display titles.

The store holds real records: the four Sony XAV-AX5500 CVEs, two Ivanti Connect Secure CVEs
(one whose CNA names the product ``ICS`` while CISA-ADP writes ``connect_secure``), and every
1500th shared record as neighbours; the KEV catalog is the shared one; the vector index is
complete (real sync, real MiniLM).
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from devstack import scratch
from devstack.corpus import edited, write
from tests.rag.conftest import Corpus
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.sync import IndexSync
from workloads.rag.api import create_app
from workloads.rag.entities import NameCatalog
from workloads.rag.service import RagService
from workloads.store import products
from workloads.store.db import StoreTarget
from workloads.store.enrichment import load_kev
from workloads.store.migrate import migrate
from workloads.store.search import Filters

SONY = {"CVE-2024-23922", "CVE-2024-23933", "CVE-2024-23934", "CVE-2024-23972"}
IVANTI = {"CVE-2024-21893", "CVE-2025-0282"}


def _records(shared_data: Path, every: int, wanted: set[str]) -> list[dict[str, Any]]:
    """Every ``every``-th shared record and the ``wanted`` ones (an id may sit anywhere in a line)."""
    docs = []
    with gzip.open(shared_data / "cve-records.jsonl.gz") as stream:
        for n, line in enumerate(stream):
            if n % every == 0 or any(f'"{i}"'.encode() in line for i in wanted):
                doc = json.loads(line)
                if n % every == 0 or doc["cveMetadata"]["cveId"] in wanted:
                    docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def store(postgres: Any, shared_data: Path, rag_embedder: LocalEmbedder) -> Iterator[Corpus]:
    target = StoreTarget(postgres.dsn, f"ragp_{uuid.uuid4().hex[:10]}")
    migrate(target)
    docs = _records(shared_data, 1500, SONY | IVANTI)
    write(target, docs)
    load_kev(target, str(shared_data / "kev.json"))
    backend = PgVectorBackend(PgVectorConfig(dsn=target.dsn, schema=target.schema))
    sync = IndexSync(target, f"pgvector:{target.schema}.cve_embeddings", rag_embedder, backend)
    assert sync.run_once().complete
    sync.close()
    backend.close()
    yield Corpus(target, {d["cveMetadata"]["cveId"]: d for d in docs}, rag_embedder)
    scratch.drop_schema(postgres.dsn, target.schema)


@pytest.fixture(scope="module")
def service(store: Corpus) -> Iterator[RagService]:
    svc = RagService(store.settings(), embedder=store.embedder)
    yield svc
    svc.vectors.close()
    svc.pool.close()


def _vocabulary(store: Corpus) -> products.Vocabulary:
    with psycopg.connect(store.target.dsn) as conn:
        conn.execute(f'SET search_path TO "{store.target.schema}", public')
        return products.load(conn)


def test_a_cna_abbreviation_and_the_adp_name_are_one_product(store: Corpus) -> None:
    vocabulary = _vocabulary(store)
    assert ("ivanti", "connect secure") in vocabulary.group_members(("ivanti", "ics"))
    assert vocabulary.group_cves(("ivanti", "connect secure")) >= IVANTI
    assert vocabulary.group_cves(("sony", "xav-ax5500")) == SONY


def test_names_link_only_when_a_record_shows_they_are_one_product() -> None:
    rows = [
        ("CVE-1", "cna", "Acme", "Road Runner", None),
        ("CVE-1", "adp", "acme", "road_runner", None),  # case and '_' vs space
        ("CVE-2", "cna", "Acme", "ARR", None),  # initials of vendor + product, same record
        ("CVE-2", "adp", "acme", "anvil_road_runner", None),
        ("CVE-2", "cna", "Acme", "Dynamite", None),
        ("CVE-2", "adp", "acme", "rocket_skates", None),  # two each, unrelated: not linked
        ("CVE-3", "kev", "Acme", "Glue, Paint, and Tar", None),
    ]
    vocabulary = products.build(row[:4] for row in rows)
    assert ("acme", "road runner") in vocabulary.product_spellings
    assert vocabulary.group_cves(("acme", "road runner")) == {"CVE-1"}
    assert vocabulary.group(("acme", "arr")) == vocabulary.group(("acme", "anvil road runner"))
    assert vocabulary.group(("acme", "dynamite")) != vocabulary.group(("acme", "rocket skates"))
    assert {("acme", "glue"), ("acme", "paint"), ("acme", "tar")} <= vocabulary.product_spellings.keys()


def test_the_named_products_cves_come_first_by_kev_severity_and_recency(service: RagService) -> None:
    hits = service.retriever.search("vulnerabilities in Sony XAV-AX5500", 8, Filters())
    first = hits[: len(SONY)]
    assert {h.cve_id for h in first} == SONY
    assert all("product" in h.matched for h in first)
    order = [(not h.kev, -(h.cvss or 0), -(h.published.toordinal() if h.published else 0)) for h in first]
    assert order == sorted(order)
    assert all(h.cve_id not in SONY and "product" not in h.matched for h in hits[len(SONY) :])


def test_a_product_is_found_whichever_source_named_it(service: RagService) -> None:
    hits = service.retriever.search(
        "Which Ivanti Connect Secure vulnerabilities are known exploited?", 5, Filters()
    )
    assert {h.cve_id for h in hits[:2]} == IVANTI
    assert all(h.kev for h in hits)


def test_a_misspelt_vendor_still_finds_its_product(service: RagService) -> None:
    hits = service.retriever.search("Ivnati Connect Secure vulnerabilities", 5, Filters())
    assert {h.cve_id for h in hits[:2]} == IVANTI


def test_an_id_named_says_so(service: RagService) -> None:
    hits = service.retriever.search("What is CVE-2025-0282?", 5, Filters())
    assert hits[0].cve_id == "CVE-2025-0282" and hits[0].matched[0] == "id"


def test_records_without_a_cna_title_get_one_from_kev_or_their_description(
    service: RagService, store: Corpus
) -> None:
    ssrf = service.retriever.search("CVE-2024-21893", 1, Filters())[0]
    assert store.records["CVE-2024-21893"]["containers"]["cna"].get("title") is None
    assert ssrf.title and ssrf.title.startswith(
        "Ivanti Connect Secure, Policy Secure, and Neurons Server-Side"
    )
    with service.pool.connection() as conn:
        row = conn.execute(
            "SELECT c.cve_id, c.description FROM cves c LEFT JOIN kev_catalog k USING (cve_id)"
            " WHERE c.title IS NULL AND k.cve_id IS NULL AND c.state = 'PUBLISHED' AND c.description LIKE '%%. %%'"
            " ORDER BY c.cve_id LIMIT 1"
        ).fetchone()
    assert row is not None
    hit = service.retriever.search(row[0], 1, Filters())[0]
    assert hit.title == row[1].split(". ")[0][:160]


def test_the_vocabulary_follows_the_records(store: Corpus, service: RagService) -> None:
    now = [0.0]
    catalog = NameCatalog(service.pool, ttl=60, clock=lambda: now[0])
    question = "Which Wile E. Coyote Supplies vulnerabilities are there?"
    assert not catalog.find(question).exact
    doc = store.records["CVE-2024-23922"]
    changed = edited(doc, description="A flaw in the rocket skates.")
    changed["containers"]["cna"]["affected"].append({"vendor": "Coyote Supplies", "product": "Rocket Skates"})
    write(store.target, [changed])
    now[0] += 61
    assert catalog.find(question).exact == frozenset({"CVE-2024-23922"})


def test_search_results_say_why_they_matched_over_http(store: Corpus) -> None:
    settings = store.settings()
    with TestClient(create_app(settings, RagService(settings, embedder=store.embedder))) as client:
        response = client.post("/v1/search", json={"query": "Sony XAV-AX5500 vulnerabilities", "top_k": 6})
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["cve_id"] for r in results[:4]} == SONY
    assert all("product" in r["matched"] for r in results[:4])
    assert all(set(r["matched"]) <= {"id", "product", "full_text", "vector"} for r in results)
