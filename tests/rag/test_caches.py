"""The RAG API's store-derived caches load on first use on a fresh node, then refresh after their ttl.

Both used to start from ``loaded = 0.0`` against ``time.monotonic()`` (seconds since boot), so
on a node up for less than the ttl the vendor/product catalogue stayed empty and every word
counted as distinctive.  The clock is injected here: ``0.0`` is a node booted a moment ago,
``1e9`` a long-lived one; the store is real (a small schema of its own, so the session corpus
the other tests rank against is not touched).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from devstack.corpus import sample, write
from workloads.rag.entities import NameCatalog
from workloads.rag.lexical import CommonLexemes
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.postgres]
UPTIMES = [0.0, 1e9]


class Store:
    def __init__(self, target: StoreTarget, docs: list[dict[str, Any]]) -> None:
        self.target = target
        self.template = docs[0]

    def add(self, cve_id: str, vendor: str, product: str, description: str) -> None:
        doc = copy.deepcopy(self.template)
        doc["cveMetadata"]["cveId"] = cve_id
        cna = doc["containers"]["cna"]
        cna["affected"] = [{"vendor": vendor, "product": product, "defaultStatus": "affected"}]
        cna["descriptions"] = [{"lang": "en", "value": description}]
        write(self.target, [doc])

    def analyze(self) -> None:
        with psycopg.connect(self.target.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("ANALYZE {}.cves").format(sql.Identifier(self.target.schema)))


@pytest.fixture(scope="module")
def small_store(postgres: Any, shared_data: Path) -> Iterator[Store]:
    target = StoreTarget(postgres.dsn, f"rag_cache_{uuid.uuid4().hex[:8]}")
    migrate(target)
    docs = [d for d in sample(shared_data, 5000) if d["cveMetadata"]["state"] == "PUBLISHED"]
    write(target, docs)
    yield Store(target, docs)
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target.schema)))


@pytest.fixture
def pool(small_store: Store) -> Iterator[ConnectionPool[Any]]:
    schema = small_store.target.schema

    def configure(conn: Any) -> None:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))

    with ConnectionPool(
        small_store.target.dsn, min_size=1, max_size=2, configure=configure, kwargs={"autocommit": True}
    ) as opened:
        yield opened


@pytest.mark.parametrize("uptime", UPTIMES)
def test_name_catalog_loads_on_first_use_then_after_its_ttl(
    small_store: Store, pool: ConnectionPool[Any], uptime: float
) -> None:
    now = [uptime]
    catalog = NameCatalog(pool, ttl=600, clock=lambda: now[0])
    vendors, products, pairs = catalog.names()
    assert vendors and products and pairs  # the first question already sees the store's names
    tag = uuid.uuid4().hex[:6]
    vendor, product = f"zqvendor{tag}", f"zqproduct{tag}"
    small_store.add(f"CVE-2099-{int(tag, 16) % 90000 + 10000}", vendor, product, "A flaw.")
    now[0] += 600
    assert catalog.find(f"{vendor} {product} flaws").empty  # still the cached names
    now[0] += 1
    found = catalog.find(f"{vendor} {product} flaws")
    assert found.vendors == [vendor] and found.products == [product] and found.pair == (vendor, product)


@pytest.mark.parametrize("uptime", UPTIMES)
def test_common_lexemes_load_on_first_use_then_after_their_ttl(
    small_store: Store, pool: ConnectionPool[Any], uptime: float
) -> None:
    small_store.analyze()
    now = [uptime]
    lexemes = CommonLexemes(pool, ttl=300, clock=lambda: now[0])
    first = lexemes.get()
    assert first  # the statistics ANALYZE keeps are read on the first question
    word = f"zqword{uuid.uuid4().hex[:6]}"
    for n in range(20):  # frequent enough in the small store to count as common
        small_store.add(f"CVE-2098-{uuid.uuid4().int % 90000 + 10000}", "v", "p", f"{word} number {n}")
    small_store.analyze()
    now[0] += 300
    assert lexemes.get() == first and word not in first
    now[0] += 1
    assert word in lexemes.get()
