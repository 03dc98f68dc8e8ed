"""Current records with their normalised fields, the facts answers quote, and version history.

Facts are copied from the store, never generated: CVSS scores with their vectors as
published, CWE ids with the CNA's wording, the KEV date (the record's CISA-ADP entry, else
the loaded catalog), EPSS, and affected version ranges rendered from the record's
``affected[].versions[]`` (``version``/``lessThan``/``lessThanOrEqual``/``status``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from workloads.store import assessments_query
from workloads.store import fields as f
from workloads.store.projection import CVSS_VERSIONS

CVE_URL = "https://www.cve.org/CVERecord?id={}"
_LABELS = {"v40": "CVSS 4.0", "v31": "CVSS 3.1", "v30": "CVSS 3.0", "v20": "CVSS 2.0"}
# What a record is called where it is listed or cited: the CNA's title, else KEV's name for the
# flaw, else the description's first sentence (many CNAs give no title).
DISPLAY_TITLE = "coalesce(c.title, k.vulnerability_name, left(split_part(c.description, '. ', 1), 160))"


def display_title(title: str | None, kev_name: str | None, description: str | None) -> str | None:
    """:data:`DISPLAY_TITLE` for a row read without it (a historic version's)."""
    return title or kev_name or (description.split(". ", 1)[0][:160] if description else None)


_COLUMNS = (
    f"{DISPLAY_TITLE} AS display_title,"
    " c.cve_id, c.state, c.version, c.valid_from, c.assigner, c.title, c.description, c.date_published, c.date_updated,"
    " c.date_rejected, c.base_score::float8 AS base_score, c.base_severity, c.cwe_ids, c.vendors, c.products,"
    " c.cpes, c.ssvc_exploitation, c.ssvc_automatable, c.ssvc_technical_impact, v.record,"
    " coalesce(c.kev_date_added, k.date_added) AS kev_date_added, k.required_action AS kev_required_action,"
    " k.due_date AS kev_due_date, k.known_ransomware AS kev_known_ransomware, e.epss, e.percentile AS epss_percentile, "
    + ", ".join(
        f"c.cvss_{v}_score::float8 AS cvss_{v}_score, c.cvss_{v}_severity, c.cvss_{v}_vector"
        for v in CVSS_VERSIONS
    )
)


@dataclass(frozen=True)
class CveFacts:
    cve_id: str
    title: str | None
    state: str
    description: str | None
    cvss: list[dict[str, Any]]
    cwe: list[dict[str, str]]
    kev: dict[str, Any] | None
    epss: dict[str, float] | None
    affected: list[str]
    published: date | None
    updated: date | None
    fields: dict[str, Any] = field(default_factory=dict)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    """Every assessor's CVSS/CWE with its source, in preference order (docs/provenance.md)."""

    @property
    def url(self) -> str:
        return CVE_URL.format(self.cve_id)


def _day(value: datetime | date | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def version_ranges(record: dict[str, Any]) -> list[str]:
    """``vendor product: <range> (status)`` lines from the CNA's ``affected`` entries."""
    lines = []
    cna = f.as_dict(f.as_dict(record.get("containers")).get("cna"))
    for item in f.dicts(cna.get("affected")):
        name = " ".join(filter(None, [f.text(item.get("vendor")), f.text(item.get("product"))])) or "unnamed"
        ranges = [_range(v) for v in f.dicts(item.get("versions"))]
        if ranges:
            lines.append(f"{name}: " + "; ".join(r for r in ranges if r))
        elif f.text(item.get("defaultStatus")):
            lines.append(f"{name}: all versions {item['defaultStatus']}")
    return lines[:20]


def _range(version: dict[str, Any]) -> str:
    start, status = f.text(version.get("version")), f.text(version.get("status")) or "affected"
    if below := f.text(version.get("lessThan")):
        span = f"from {start} before {below}" if start and start not in ("0", "*") else f"before {below}"
    elif upto := f.text(version.get("lessThanOrEqual")):
        span = f"from {start} through {upto}" if start and start not in ("0", "*") else f"through {upto}"
    else:
        span = start or "?"
    return f"{span} ({status})"


def _cwe(record: dict[str, Any], ids: list[str]) -> list[dict[str, str]]:
    named: dict[str, str] = {}
    containers = f.as_dict(record.get("containers"))
    for container in [f.as_dict(containers.get("cna")), *f.dicts(containers.get("adp"))]:
        for problem in f.dicts(container.get("problemTypes")):
            for desc in f.dicts(problem.get("descriptions")):
                if (cwe := f.text(desc.get("cweId"))) and cwe not in named:
                    wording = (f.text(desc.get("description")) or "").removeprefix(cwe).lstrip(" :-")
                    named[cwe] = wording or cwe
    return [{"id": cwe, "name": named.get(cwe, cwe)} for cwe in ids]


def facts_of(row: dict[str, Any]) -> CveFacts:
    record = row["record"] if isinstance(row["record"], dict) else {}
    cvss = [
        {
            "version": _LABELS[v],
            "score": row[f"cvss_{v}_score"],
            "severity": row[f"cvss_{v}_severity"],
            "vector": row[f"cvss_{v}_vector"],
        }
        for v in CVSS_VERSIONS
        if row[f"cvss_{v}_score"] is not None or row[f"cvss_{v}_vector"]
    ]
    kev = None
    if row["kev_date_added"]:
        kev = {
            "date_added": row["kev_date_added"].isoformat(),
            "due_date": _iso(row["kev_due_date"]),
            "required_action": row["kev_required_action"],
            "known_ransomware": row["kev_known_ransomware"],
        }
    epss = {"score": row["epss"], "percentile": row["epss_percentile"]} if row["epss"] is not None else None
    return CveFacts(
        cve_id=row["cve_id"],
        title=row["display_title"] if "display_title" in row else row["title"],
        state=row["state"],
        description=row["description"],
        cvss=cvss,
        cwe=_cwe(record, list(row["cwe_ids"])),
        kev=kev,
        epss=epss,
        affected=version_ranges(record),
        published=_day(row["date_published"]),
        updated=_day(row["date_updated"]),
        fields={k: v for k, v in row.items() if k not in ("record", "display_title")},
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


class RecordReader:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def current(self, cve_ids: list[str]) -> dict[str, tuple[CveFacts, dict[str, Any]]]:
        """``cve_id -> (facts, full record)`` for the ids the store knows."""
        if not cve_ids:
            return {}
        query = (
            f"SELECT {_COLUMNS} FROM cves c JOIN cve_versions v USING (cve_id, version)"
            " LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id LEFT JOIN epss_scores e ON e.cve_id = c.cve_id"
            " WHERE c.cve_id = ANY(%s)"
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, [cve_ids]).fetchall()
            assessed = assessments_query.read(conn, cve_ids)
        return {
            r["cve_id"]: (replace(facts_of(r), assessments=assessed.get(r["cve_id"], [])), r["record"])
            for r in rows
        }
