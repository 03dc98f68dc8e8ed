"""Hybrid retrieval: exact ids, full text, vector kNN and name matches, fused by reciprocal rank.

Each ranked list is good at something the others miss: an id in the question is looked up
exactly (and always comes first); PostgreSQL full text finds rare words and exact phrases;
the vector index finds paraphrases; name matches find products that neither stems nor word
pieces keep intact.  The lists run concurrently and are fused with reciprocal rank fusion
(``sum 1 / (60 + rank)``, Cormack et al. 2009), which needs no score calibration between
them.  Results are then read from ``cves`` with every filter applied exactly, so a list that
can only filter approximately (vectors filter by year) never lets a wrong result through.

When the question names a product (or vendor) the store knows, that product's CVEs come
first: every CVE of the product gets a bonus larger than any fused score, so a weak vector
neighbour can never sit between two exact matches.  Among them, a question that names only the
product ("Sony XAV-AX5500 vulnerabilities") orders by KEV, severity and recency; one with more
words ("Apache Tomcat request smuggling") by the fused relevance of those words.  Each hit says
which lists found it (``matched``: id, product, full_text, vector).

``mode="vector"`` is plain kNN (what the original system did) and ``mode="lexical"`` full
text alone: both exist for the side-by-side evaluation in tests and bench/.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Literal

from psycopg import sql
from psycopg_pool import ConnectionPool

from workloads.common.records import CVE_ID_IN_TEXT
from workloads.index.backends import BackendError
from workloads.index.documents import cve_of
from workloads.rag import filter_clauses, lexical
from workloads.rag.entities import GENERIC, Entities, NameCatalog
from workloads.rag.records import DISPLAY_TITLE
from workloads.rag.understand import cve_ids, filters_from_question
from workloads.rag.vectors import VectorSearch
from workloads.store.search import Filters

Mode = Literal["hybrid", "vector", "lexical"]
RRF_K = 60
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
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
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What the retriever made of a query (returned for logging and tests)."""

    ids: list[str]
    filters: Filters
    entities: Entities


PRODUCT_BONUS = 0.5  # more than any sum of reciprocal ranks (at most ~0.07), less than an id's 1


def fuse(
    lists: list[list[str]],
    exact: list[str],
    product: list[str] | None = None,
    members: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """Reciprocal rank fusion; ids named first, then the named product's CVEs (``members``, and
    ``product``, its best, fused as a list too), then everything else."""
    scores: dict[str, float] = {}
    for ranked in [*lists, *([product] if product else [])]:
        for rank, cve_id in enumerate(ranked, start=1):
            scores[cve_id] = scores.get(cve_id, 0.0) + 1.0 / (RRF_K + rank)
    for cve_id in scores.keys() & (members | set(product or [])):
        scores[cve_id] += PRODUCT_BONUS
    for position, cve_id in enumerate(exact):
        scores[cve_id] = scores.get(cve_id, 0.0) + 1.0 + 1.0 / (1 + position)
    return scores


def why(lists: dict[str, list[str]], exact: list[str]) -> dict[str, tuple[str, ...]]:
    """For each candidate, the names of the lists that found it."""
    found: dict[str, list[str]] = {}
    for cve_id in exact:
        found.setdefault(cve_id, []).append("id")
    for name, ranked in lists.items():
        for cve_id in ranked:
            if name not in found.setdefault(cve_id, []):
                found[cve_id].append(name)
    return {c: tuple(names) for c, names in found.items()}


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
        asked = filters_from_question(query)
        if entities.exact and any(_YEAR.search(name) for name in entities.products):
            asked = replace(asked, published_from=None, published_to=None)  # "SharePoint Server 2019"
        return Plan(cve_ids(query), explicit.merged(asked), entities)

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
        jobs: dict[str, Callable[[], list[str]]] = {}
        if mode in ("hybrid", "vector"):
            jobs["vector"] = lambda: self._vector(query, plan.filters, n)
        if mode in ("hybrid", "lexical"):
            jobs["full_text"] = lambda: self._lexical(query, plan.filters, n)
        if mode == "hybrid" and plan.entities.exact:
            jobs["product"] = lambda: self._product(plan.entities, plan.filters, n)
        elif mode == "hybrid" and not plan.entities.empty:
            jobs["name"] = lambda: self._named(plan.entities, plan.filters, n)
        futures = {name: self._workers.submit(job) for name, job in jobs.items()}
        lists = {name: f.result() for name, f in futures.items()}
        product = lists.pop("product", None)
        if product is not None and plan.entities.covered:  # only the product asked for: its order
            scores = fuse(list(lists.values()), [])
            scores = {c: v / 2 for c, v in scores.items()} | fuse([], plan.ids, product)
        elif product is not None and (plan.entities.vendor_named or plan.entities.pair):
            scores = fuse(list(lists.values()), plan.ids, product, plan.entities.exact)
        else:  # a product name alone among other words may be a common word: one list among others
            scores = fuse([*lists.values(), *([product] if product else [])], plan.ids)
        named = {"product" if k == "name" else k: v for k, v in lists.items()}
        return self._read(
            scores, plan, top_k, why({**named, **({"product": product} if product else {})}, plan.ids)
        )

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

    def _product(self, entities: Entities, filters: Filters, n: int) -> list[str]:
        """The named product's CVEs that pass the filters: known exploited, most severe, newest first."""
        where, params = filter_clauses.where(filters)
        statement = sql.SQL(
            "SELECT c.cve_id FROM cves c LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
            " WHERE c.cve_id = ANY(%s) AND {where} ORDER BY (c.kev_date_added IS NOT NULL OR k.cve_id IS NOT NULL) DESC,"
            " c.base_score DESC NULLS LAST, c.date_published DESC NULLS LAST, c.cve_id LIMIT %s"
        ).format(where=where)
        with self.pool.connection() as conn:
            rows = conn.execute(statement, [sorted(entities.exact), *params, max(n, 50)]).fetchall()
        return [str(r[0]) for r in rows]

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

    def _read(
        self, scores: dict[str, float], plan: Plan, top_k: int, matched: dict[str, tuple[str, ...]]
    ) -> list[Hit]:
        """The best candidates that pass the filters (named ids pass regardless), best first,
        each with a display title: the CNA's, else KEV's name, else the description's first
        sentence."""
        ranked = sorted(scores, key=lambda c: (-scores[c], c))[: max(top_k * 4, 40)]
        where, params = filter_clauses.where(plan.filters)
        statement = sql.SQL(
            f"SELECT c.cve_id, {DISPLAY_TITLE},"
            " c.base_severity, c.base_score::float8, c.date_published::date,"
            " (c.kev_date_added IS NOT NULL OR k.cve_id IS NOT NULL)"
            " FROM cves c LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
            " WHERE c.cve_id = ANY(%s) AND (c.cve_id = ANY(%s) OR ({where}))"
        ).format(where=where)
        with self.pool.connection() as conn:
            rows = conn.execute(statement, [ranked, plan.ids, *params]).fetchall()
        found = {r[0]: r for r in rows}
        hits = [
            Hit(c, round(scores[c], 6), *found[c][1:6], matched=matched.get(c, ()))  # type: ignore[misc]
            for c in ranked
            if c in found
        ]
        return hits[:top_k]
