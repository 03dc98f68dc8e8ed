"""The store as it was at a time: a CVE's facts from the version valid then, and search
results narrowed to the records the store held then, with the values they had then.

KEV counts as of a time when the record then carried CISA-ADP's KEV entry or the catalog's
``dateAdded`` is not later than that day.  EPSS is the latest load's (the store keeps no EPSS
history); the exploitation answer says so.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row

from workloads.rag.records import CveFacts, display_title, facts_of
from workloads.rag.retrieval import Hit
from workloads.store import fields
from workloads.store.history_query import projected, versions_at
from workloads.store.models import CveVersion
from workloads.store.search import Filters, cwe_id, severities_at_least

_ENRICHMENT = (
    "SELECT i.cve_id, k.vulnerability_name AS kev_name, k.date_added AS kev_catalog_added, k.required_action AS kev_required_action,"
    " k.due_date AS kev_due_date, k.known_ransomware AS kev_known_ransomware, e.epss,"
    " e.percentile AS epss_percentile FROM unnest(%s::text[]) AS i(cve_id)"
    " LEFT JOIN kev_catalog k ON k.cve_id = i.cve_id LEFT JOIN epss_scores e ON e.cve_id = i.cve_id"
)


def facts_at(
    conn: Any, cve_ids: list[str], at: datetime
) -> dict[str, tuple[CveFacts, dict[str, Any], CveVersion]]:
    """``cve_id -> (facts, record, version)`` for the ids that had a version valid at ``at``."""
    found = versions_at(conn, cve_ids, at)
    if not found:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        extra = {r["cve_id"]: r for r in cur.execute(_ENRICHMENT, [list(found)]).fetchall()}
    out = {}
    for cve, version in found.items():
        row = projected(version) | {k: v for k, v in extra[cve].items() if k != "cve_id"}
        catalog_added = row.pop("kev_catalog_added")
        row["display_title"] = display_title(row["title"], row.pop("kev_name"), row["description"])
        if row["kev_date_added"] is None and catalog_added is not None and catalog_added <= at.date():
            row["kev_date_added"] = catalog_added
        if row["kev_date_added"] is None:
            row.update(kev_required_action=None, kev_due_date=None, kev_known_ransomware=None)
        row["record"] = version.record or {}
        out[cve] = (facts_of(row), version.record or {}, version)
    return out


def passes(filters: Filters, fact: CveFacts) -> bool:
    """Whether ``fact`` (a version's facts) satisfies ``filters``, as the SQL filters would."""
    row = fact.fields
    checks = [
        not filters.vendor or fields.lowered(filters.vendor) in row["vendors"],
        not filters.product or fields.lowered(filters.product) in row["products"],
        not filters.cwe or cwe_id(filters.cwe) in row["cwe_ids"],
        filters.min_score is None or (row["base_score"] or -1.0) >= filters.min_score,
        not filters.min_severity or row["base_severity"] in severities_at_least(filters.min_severity),
        filters.kev is None or filters.kev == bool(fact.kev),
        not filters.published_from or _on_or_after(row["date_published"], filters.published_from),
        not filters.published_to or not _on_or_after(row["date_published"], filters.published_to),
    ]
    return all(checks)


def _on_or_after(value: datetime | None, bound: date) -> bool:
    if value is None:
        return False
    if isinstance(bound, datetime):
        return value >= fields.aware(bound)
    return value.date() >= bound


def hits_as_of(conn: Any, hits: list[Hit], at: datetime, filters: Filters, top_k: int) -> list[Hit]:
    """``hits`` (current ranking) kept when the CVE had a version at ``at`` that passes
    ``filters``, each with that version's title, severity, score, publication and KEV."""
    then = facts_at(conn, [h.cve_id for h in hits], at)
    kept = []
    for hit in hits:
        if hit.cve_id not in then or not passes(filters, then[hit.cve_id][0]):
            continue
        fact = then[hit.cve_id][0]
        title = fact.title or (fact.description or "")[:120] or None
        kept.append(
            dataclasses.replace(
                hit,
                title=title,
                severity=fact.fields["base_severity"],
                cvss=fact.fields["base_score"],
                published=fact.published,
                kev=bool(fact.kev),
            )
        )
    return kept[:top_k]
