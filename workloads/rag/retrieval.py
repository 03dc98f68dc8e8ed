"""Hybrid retrieval: exact ids, full text, vector kNN and name matches, fused by reciprocal rank.

Each ranked list is good at something the others miss: an id in the question is looked up
exactly (and always comes first); PostgreSQL full text finds rare words and exact phrases;
the vector index finds paraphrases; name matches find products that neither stems nor word
pieces keep intact.  The lists run concurrently and are fused with reciprocal rank fusion
(``sum 1 / (60 + rank)``, Cormack et al. 2009), which needs no score calibration between
them.  Results are then read from ``cves`` with every filter applied exactly, so a list that
can only filter approximately (vectors filter by year) never lets a wrong result through.

``mode="vector"`` is plain kNN (what the original system did) and ``mode="lexical"`` full
text alone: both exist for the side-by-side evaluation in tests and bench/.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from psycopg import sql
from psycopg_pool import ConnectionPool

from workloads.common.records import CVE_ID_IN_TEXT
from workloads.index.backends import BackendError
from workloads.index.documents import cve_of
from workloads.rag import filter_clauses, lexical
from workloads.rag.entities import GENERIC, Entities, NameCatalog
from workloads.rag.understand import cve_ids, filters_from_question
from workloads.rag.vectors import VectorSearch
from workloads.store.search import Filters

Mode = Literal["hybrid", "vector", "lexical"]
RRF_K = 60
_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    cve_id: str
    score: float
    title: str | None
    severity: str | None
    cvss: float | None
    published: date | None
    kev: bool


@dataclass(frozen=True)
class Plan:
    """What the retriever made of a query (returned for logging and tests)."""

    ids: list[str]
    filters: Filters
    entities: Entities


def fuse(lists: list[list[str]], exact: list[str]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, cve_id in enumerate(ranked, start=1):
            scores[cve_id] = scores.get(cve_id, 0.0) + 1.0 / (RRF_K + rank)
    for position, cve_id in enumerate(exact):
        scores[cve_id] = scores.get(cve_id, 0.0) + 1.0 + 1.0 / (1 + position)
    return scores


def terms(query: str) -> list[str]:
    words = _TERM.findall(conditions_free(query))
    return [w for w in words if w.lower() not in GENERIC and len(w) > 1][:24]


def conditions_free(query: str) -> str:
    return CVE_ID_IN_TEXT.sub(" ", query)


class Retriever:
    def __init__(
        self, pool: ConnectionPool[Any], vectors: VectorSearch, catalog: NameCatalog, candidates: int = 40
    ) -> None:
        self.pool = pool
        self.vectors = vectors
        self.catalog = catalog
        self.candidates = candidates
        self.common = lexical.CommonLexemes(pool)
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="retrieve")

    def plan(self, query: str, explicit: Filters, mode: Mode = "hybrid") -> Plan:
        if mode != "hybrid":
            return Plan([], explicit, Entities())
        entities = self.catalog.find(query)
        named = Filters(vendor=entities.pair[0], product=entities.pair[1]) if entities.pair else Filters()
        return Plan(cve_ids(query), explicit.merged(filters_from_question(query).merged(named)), entities)

    def search(
        self, query: str, top_k: int, explicit: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[Hit]:
        """Best ``top_k`` hits.  When filters read from the question leave nothing, the search
        runs again with the explicit filters only: a misread question must not hide results."""
        plan = self.plan(query, explicit or Filters(), mode)
        hits = self._run(query, plan, top_k, mode)
        if not hits and plan.filters != (explicit or Filters()):
            hits = self._run(query, Plan(plan.ids, explicit or Filters(), plan.entities), top_k, mode)
        return hits

    def _run(self, query: str, plan: Plan, top_k: int, mode: Mode) -> list[Hit]:
        n = max(self.candidates, top_k)
        jobs: list[Callable[[], list[str]]] = []
        if mode in ("hybrid", "vector"):
            jobs.append(lambda: self._vector(query, plan.filters, n))
        if mode in ("hybrid", "lexical"):
            jobs.append(lambda: self._lexical(query, plan.filters, n))
        if mode == "hybrid" and not plan.entities.empty:
            jobs.append(lambda: self._named(plan.entities, plan.filters, n))
        futures = [self._workers.submit(job) for job in jobs]
        scores = fuse([f.result() for f in futures], plan.ids)
        return self._read(scores, plan, top_k)

    def _vector(self, query: str, filters: Filters, n: int) -> list[str]:
        try:
            matches = self.vectors.query(query, n * 2, filter_clauses.vector_filter(filters))
        except BackendError as exc:
            log.warning("vector search unavailable, full text only: %s", exc)
            return []
        return list(dict.fromkeys(cve_of(m.id) for m in matches))[:n]

    def _lexical(self, query: str, filters: Filters, n: int) -> list[str]:
        words = terms(query)
        if not words:
            return []
        where, params = filter_clauses.where(filters)
        return lexical.candidates(self.pool, words, self.common.distinctive(words), where, params, n)

    def _named(self, entities: Entities, filters: Filters, n: int) -> list[str]:
        where, params = filter_clauses.where(filters)
        statement = sql.SQL(
            "SELECT c.cve_id FROM cves c LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
            " WHERE (c.products && %s::text[] OR c.vendors && %s::text[]) AND {where}"
            " ORDER BY 2 * cardinality(ARRAY(SELECT unnest(c.products) INTERSECT SELECT unnest(%s::text[])))"
            " + cardinality(ARRAY(SELECT unnest(c.vendors) INTERSECT SELECT unnest(%s::text[]))) DESC,"
            " c.date_published DESC NULLS LAST LIMIT %s"
        ).format(where=where)
        products, vendors = entities.products, entities.vendors
        with self.pool.connection() as conn:
            rows = conn.execute(statement, [products, vendors, *params, products, vendors, n]).fetchall()
        return [str(r[0]) for r in rows]

    def _read(self, scores: dict[str, float], plan: Plan, top_k: int) -> list[Hit]:
        """The best candidates that pass the filters (named ids pass regardless), best first."""
        ranked = sorted(scores, key=lambda c: (-scores[c], c))[: max(top_k * 4, 40)]
        where, params = filter_clauses.where(plan.filters)
        statement = sql.SQL(
            "SELECT c.cve_id, coalesce(c.title, left(c.description, 120)), c.base_severity, c.base_score::float8, c.date_published::date,"
            " (c.kev_date_added IS NOT NULL OR k.cve_id IS NOT NULL)"
            " FROM cves c LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
            " WHERE c.cve_id = ANY(%s) AND (c.cve_id = ANY(%s) OR ({where}))"
        ).format(where=where)
        with self.pool.connection() as conn:
            rows = conn.execute(statement, [ranked, plan.ids, *params]).fetchall()
        found = {r[0]: r for r in rows}
        hits = [Hit(c, round(scores[c], 6), *found[c][1:]) for c in ranked if c in found]
        return hits[:top_k]
