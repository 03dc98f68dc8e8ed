"""Column lists and row tuples for the COPY statements of the batch writer.

Kept apart from the transaction logic so the mapping from a planned version to table
columns is visible in one place; the order of each tuple matches its column list.
Arrays are written as PostgreSQL array literals by :func:`text_array`: psycopg's generic
list adapter is pure Python and was the largest single cost of building a row.
"""

from __future__ import annotations

from typing import Any

import orjson

from workloads.store.projection import CVSS_VERSIONS
from workloads.store.versioning import NewVersion

VERSION_COLUMNS = (
    "cve_id",
    "version",
    "sha256",
    "kind",
    "state",
    "date_updated",
    "valid_from",
    "valid_to",
    "out_of_order",
    "changes",
    "diff",
    "source",
    "release",
    "topic",
    "kafka_partition",
    "kafka_offset",
    "record",
    "claimed_time",
)

CVSS_COLUMNS = tuple(f"cvss_{v}_{part}" for v in CVSS_VERSIONS for part in ("score", "severity", "vector"))
CURRENT_COLUMNS = (
    "cve_id",
    "version",
    "sha256",
    "kind",
    "state",
    "assigner",
    "date_published",
    "date_updated",
    "date_reserved",
    "date_rejected",
    "title",
    "description",
    *CVSS_COLUMNS,
    "base_score",
    "base_severity",
    "cwe_ids",
    "vendors",
    "products",
    "vendor_products",
    "cpes",
    "kev_date_added",
    "ssvc_exploitation",
    "ssvc_automatable",
    "ssvc_technical_impact",
    "valid_from",
)


def text_array(values: list[str]) -> str:
    """A ``text[]`` literal (``{"a","b"}``) for COPY's text format, every element quoted."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def version_row(new: NewVersion) -> tuple[Any, ...]:
    inc = new.incoming
    headers = inc.raw.headers
    return (
        inc.cve_id,
        new.version,
        inc.sha256,
        inc.kind.value,
        inc.normalised.state,
        inc.date_updated,
        new.valid_from,
        new.valid_to,
        new.out_of_order,
        text_array(new.changes),
        orjson.dumps(new.diff).decode() if new.diff is not None else None,
        headers.get("cverag-source"),
        headers.get("cverag-release"),
        inc.raw.topic,
        inc.raw.partition,
        inc.raw.offset,
        inc.text,
        inc.clamped_from,
    )


def current_row(new: NewVersion) -> tuple[Any, ...]:
    n = new.incoming.normalised
    cvss: list[Any] = []
    for version in CVSS_VERSIONS:
        metric = n.cvss.get(version)
        cvss.extend((metric.score, metric.severity, metric.vector) if metric else (None, None, None))
    base = n.base
    return (
        n.cve_id,
        new.version,
        new.incoming.sha256,
        n.kind.value,
        n.state,
        n.assigner,
        n.date_published,
        n.date_updated,
        n.date_reserved,
        n.date_rejected,
        n.title,
        n.description,
        *cvss,
        base.score if base else None,
        base.severity if base else None,
        text_array(n.cwe_ids),
        text_array(n.vendors),
        text_array(n.products),
        text_array(n.vendor_products),
        text_array(n.cpes),
        n.kev_date_added,
        n.ssvc.get("exploitation"),
        n.ssvc.get("automatable"),
        n.ssvc.get("technical_impact"),
        new.valid_from,
    )
