"""One set of :class:`~workloads.store.search.Filters`, two clause languages.

``sql_conditions`` filters the store's ``cves`` rows (alias ``c``, with the KEV catalog
joined as ``k``) for full text, name matches and the final read of every result;
``vector_filter`` is the same request in the index's metadata filter language (Pinecone's,
which the pgvector backend also speaks).  The vector side can only filter on years, so
date bounds there are widened to whole years and the final SQL read applies them exactly.

(Named for what it builds: ``conditions`` elsewhere in the project are Kubernetes status
conditions.)
"""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as clock_time
from typing import Any

from psycopg import sql

from workloads.store import fields
from workloads.store.search import Filters, cwe_id, filter_conditions, severities_at_least


def sql_conditions(f: Filters) -> tuple[list[sql.Composable], list[Any]]:
    """The store's own filter conditions, over current (not REJECTED) records only."""
    conds, params = filter_conditions(f)
    return [sql.SQL("c.state <> 'REJECTED'"), *conds], params


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
        parts.append({"year": {"$lte": last_year_before(f.published_to)}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def last_year_before(bound: date) -> int:
    """The year of the last moment before an exclusive bound: a bound at the very start of a
    year ends the year before.  Arithmetic on the bound is avoided on purpose: the day before
    ``0001-01-01`` does not exist (``date - timedelta`` raised OverflowError, a 500)."""
    at_midnight = not isinstance(bound, datetime) or bound.time() == clock_time.min
    return bound.year - 1 if (bound.month, bound.day) == (1, 1) and at_midnight else bound.year
