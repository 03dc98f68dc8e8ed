"""One set of :class:`~workloads.rag.understand.Filters`, two translations.

``sql_conditions`` filters the store's ``cves`` rows (alias ``c``, with the KEV catalog
joined as ``k``) for full text, name matches and the final read of every result;
``vector_filter`` is the same request in the index's metadata filter language (Pinecone's,
which the pgvector backend also speaks).  The vector side can only filter on years, so
date bounds there are widened to whole years and the final SQL read applies them exactly.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from psycopg import sql

from workloads.rag.understand import Filters
from workloads.store import fields

SEVERITIES = fields.SEVERITY_ORDER


def severities_at_least(minimum: str) -> list[str]:
    wanted = minimum.strip().upper()
    if wanted not in SEVERITIES:
        raise ValueError(f"unknown severity {minimum!r}; one of {', '.join(SEVERITIES)}")
    return list(SEVERITIES[SEVERITIES.index(wanted) :])


def cwe_id(value: str) -> str:
    digits = re.sub(r"(?i)^cwe-", "", value.strip())
    if not digits.isdigit():
        raise ValueError(f"not a CWE id: {value!r} (expected CWE-<number>)")
    return f"CWE-{digits}"


def sql_conditions(f: Filters) -> tuple[list[sql.Composable], list[Any]]:
    conds: list[sql.Composable] = [sql.SQL("c.state <> 'REJECTED'")]
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        conds.append(sql.SQL(clause))
        params.extend(values)

    if f.vendor:
        add("c.vendors @> ARRAY[%s]::text[]", fields.lowered(f.vendor))
    if f.product:
        add("c.products @> ARRAY[%s]::text[]", fields.lowered(f.product))
    if f.min_severity:
        add("c.base_severity = ANY(%s)", severities_at_least(f.min_severity))
    if f.min_score is not None:
        add("c.base_score >= %s", f.min_score)
    if f.cwe:
        add("c.cwe_ids @> ARRAY[%s]::text[]", cwe_id(f.cwe))
    if f.kev is not None:
        add(("" if f.kev else "NOT ") + "(c.kev_date_added IS NOT NULL OR k.cve_id IS NOT NULL)")
    if f.published_from:
        add("c.date_published >= %s", f.published_from)
    if f.published_to:
        add("c.date_published < %s", f.published_to)
    return conds, params


def where(f: Filters) -> tuple[sql.Composable, list[Any]]:
    conds, params = sql_conditions(f)
    return sql.SQL(" AND ").join(conds), params


def vector_filter(f: Filters) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    if f.vendor:
        parts.append({"vendors": fields.lowered(f.vendor)})
    if f.product:
        parts.append({"products": fields.lowered(f.product)})
    if f.min_severity:
        parts.append({"severity": {"$in": severities_at_least(f.min_severity)}})
    if f.min_score is not None:
        parts.append({"cvss": {"$gte": f.min_score}})
    if f.cwe:
        parts.append({"cwe": cwe_id(f.cwe)})
    if f.kev is not None:
        parts.append({"kev": f.kev})
    if f.published_from:
        parts.append({"year": {"$gte": f.published_from.year}})
    if f.published_to:
        parts.append({"year": {"$lte": (f.published_to - timedelta(days=1)).year}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}
