"""The search query: ranked full text over title, description and products, plus filters.

Every filter maps onto an indexed column (GIN arrays, btree dates/scores) and every value
is a bound parameter.  Vendor and product filters match the case-folded names the
normaliser stores; KEV matches either the record's CISA-ADP entry or the loaded catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from psycopg import sql

from workloads.store import fields

_HIT_COLUMNS = sql.SQL(
    "c.cve_id, c.state, c.title, c.description, c.base_score::float8, c.base_severity, c.date_published,"
    " c.date_updated, c.cwe_ids, c.vendors, c.products, coalesce(c.kev_date_added, k.date_added),"
    " e.epss, e.percentile"
)


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to: one type, one meaning, for the store's own search and for
    the RAG API (full text, vectors and the final read).  ``published_to`` is exclusive; the
    bounds may be dates or datetimes."""

    vendor: str | None = None
    product: str | None = None
    min_severity: str | None = None
    min_score: float | None = None
    cwe: str | None = None
    kev: bool | None = None
    published_from: date | None = None
    published_to: date | None = None

    def merged(self, other: Filters) -> Filters:
        """``self`` where set (explicit filters win), else ``other`` (e.g. read from a question)."""
        picked = {k: v if v is not None else getattr(other, k) for k, v in vars(self).items()}
        return replace(self, **picked)


@dataclass(frozen=True)
class StoreSearch(Filters):
    """The store's :meth:`~workloads.store.query.StoreReader.search`: the filters, plus the
    record state and a page."""

    state: str | None = None
    limit: int = 20
    offset: int = 0


def cwe_id(value: str) -> str:
    """``79``, ``cwe-79`` or ``CWE-79`` as the normaliser stores it; anything else is refused."""
    digits = re.sub(r"(?i)^cwe-", "", value.strip())
    if not digits.isdigit():
        raise ValueError(f"not a CWE id: {value!r} (expected CWE-<number>)")
    return f"CWE-{digits}"


def severities_at_least(minimum: str) -> list[str]:
    wanted = minimum.strip().upper()
    if wanted not in fields.SEVERITY_ORDER:
        raise ValueError(f"unknown severity {minimum!r}; one of {', '.join(fields.SEVERITY_ORDER)}")
    return list(fields.SEVERITY_ORDER[fields.SEVERITY_ORDER.index(wanted) :])


def filter_conditions(f: Filters) -> tuple[list[sql.Composable], list[Any]]:
    """SQL conditions over ``cves c`` (KEV catalog joined as ``k``) and their parameters."""
    conds: list[sql.Composable] = []
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        conds.append(sql.SQL(clause))
        params.extend(values)

    if f.vendor:
        add("c.vendors @> ARRAY[%s]::text[]", fields.lowered(f.vendor))
    if f.product:
        add("c.products @> ARRAY[%s]::text[]", fields.lowered(f.product))
    if f.cwe:
        add("c.cwe_ids @> ARRAY[%s]::text[]", cwe_id(f.cwe))
    if f.min_score is not None:
        add("c.base_score >= %s", f.min_score)
    if f.min_severity:
        add("c.base_severity = ANY(%s)", severities_at_least(f.min_severity))
    if f.kev is not None:
        add(("" if f.kev else "NOT ") + "(c.kev_date_added IS NOT NULL OR k.cve_id IS NOT NULL)")
    if f.published_from:
        add("c.date_published >= %s", f.published_from)
    if f.published_to:
        add("c.date_published < %s", f.published_to)
    return conds, params


def _conditions(text: str | None, f: StoreSearch) -> tuple[list[sql.Composable], list[Any]]:
    conds, params = filter_conditions(f)
    if text:
        conds.insert(0, sql.SQL("c.search @@ websearch_to_tsquery('english', %s)"))
        params.insert(0, text)
    if f.state:
        conds.append(sql.SQL("c.state = %s"))
        params.append(f.state.upper())
    return conds, params


def search_query(text: str | None, filters: StoreSearch) -> tuple[sql.Composed, list[Any]]:
    """SQL and parameters; results rank by text relevance, then newest publication first."""
    conds, params = _conditions(text, filters)
    rank = sql.SQL("ts_rank_cd(c.search, websearch_to_tsquery('english', %s))") if text else sql.SQL("0.0")
    query = sql.SQL(
        "SELECT {cols}, {rank}::float8 AS rank FROM cves c"
        " LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id LEFT JOIN epss_scores e ON e.cve_id = c.cve_id"
        " WHERE {where} ORDER BY rank DESC, c.date_published DESC NULLS LAST, c.cve_id LIMIT %s OFFSET %s"
    ).format(
        cols=_HIT_COLUMNS,
        rank=rank,
        where=sql.SQL(" AND ").join(conds) if conds else sql.SQL("true"),
    )
    return query, [
        *([text] if text else []),
        *params,
        max(1, min(filters.limit, 1000)),
        max(0, filters.offset),
    ]
