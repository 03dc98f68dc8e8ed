"""Queries over the version log for time-aware answers: versions as of a time, the version a
``from``/``to`` names, and the CVEs that changed in a window.

They take an open connection (a pooled one from the RAG API, :class:`StoreReader`'s from the
CLI), so one request reads every version it cites in one place.  Versions are the rows
:class:`~workloads.store.query.StoreReader` returns (:class:`CveVersion`); a historic
version's normalised columns are not stored, so :func:`projected` re-derives them from its
record with the store's own normaliser: the columns of an old version are exactly what
``cves`` held while it was current.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from psycopg import sql

from workloads.common.records import DocumentKind
from workloads.store import fields
from workloads.store.changes import field_diff, summarise
from workloads.store.models import CveVersion
from workloads.store.normalise import normalise
from workloads.store.projection import CVSS_VERSIONS

COLUMNS = (
    "cve_id, version, state, kind, sha256, valid_from, valid_to, date_updated, out_of_order, changes, diff,"
    " ingested_at, source, release"
)
_FIELD_NAMES = [f.name for f in dataclasses.fields(CveVersion)]
_VERSION_REF = re.compile(r"(?i)v?([0-9]{1,6})")


class NoSuchVersion(LookupError):
    """A ``from``/``to`` names a version the CVE does not have (the message says which it has)."""


def as_version(row: tuple[Any, ...]) -> CveVersion:
    """A row listing the CveVersion fields in declaration order (``record`` last, optional)."""
    return CveVersion(**dict(zip(_FIELD_NAMES, row, strict=False)))


def moment(value: datetime | date) -> datetime:
    """A date means the end of that day (UTC): "as of 2024-05-01" includes that day's changes."""
    if isinstance(value, datetime):
        return fields.aware(value)
    return datetime.combine(value, time.max, tzinfo=UTC)


def versions(conn: Any, cve_ids: list[str], *, with_records: bool = False) -> dict[str, list[CveVersion]]:
    """Every version of each CVE, oldest first (ids the store lacks are absent)."""
    extra = sql.SQL(", record" if with_records else "")
    query = sql.SQL("SELECT {cols}{extra} FROM cve_versions WHERE cve_id = ANY(%s) ORDER BY cve_id, version")
    found: dict[str, list[CveVersion]] = {}
    for row in conn.execute(query.format(cols=sql.SQL(COLUMNS), extra=extra), [cve_ids]).fetchall():
        found.setdefault(row[0], []).append(as_version(row))
    return found


def versions_at(conn: Any, cve_ids: list[str], at: datetime) -> dict[str, CveVersion]:
    """The version of each CVE valid at ``at`` (source time), with its record."""
    query = sql.SQL(
        "SELECT {cols}, record FROM cve_versions WHERE cve_id = ANY(%s)"
        " AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"
    ).format(cols=sql.SQL(COLUMNS))
    rows = conn.execute(query, [cve_ids, at, at]).fetchall()
    return {row[0]: as_version(row) for row in rows}


def pick(chain: list[CveVersion], ref: str | None, default: CveVersion) -> CveVersion:
    """The version ``ref`` names in ``chain``: ``3``/``v3``, or an ISO date/time (the version
    valid then); ``default`` when ``ref`` is empty.  Raises :class:`NoSuchVersion` or ValueError."""
    if not ref:
        return default
    if number := _VERSION_REF.fullmatch(ref.strip()):
        wanted = int(number[1])
        found = next((v for v in chain if v.version == wanted), None)
        if found is None:
            raise NoSuchVersion(f"{chain[0].cve_id} has versions 1 to {chain[-1].version}, not {ref!r}")
        return found
    at = _parse_time(ref)
    found = next((v for v in chain if v.valid_from <= at and (v.valid_to is None or v.valid_to > at)), None)
    if found is None:
        first = chain[0].valid_from.isoformat()
        raise NoSuchVersion(
            f"{chain[0].cve_id} had no version in the store at {ref} (the first is from {first})"
        )
    return found


def _parse_time(ref: str) -> datetime:
    text = ref.strip()
    if len(text) == 10:
        return moment(date.fromisoformat(text))  # raises ValueError for a bad date
    parsed = fields.timestamp(text)
    if parsed is None:
        raise ValueError(f"{ref!r} is neither a version (3, v3) nor an ISO-8601 date or time")
    return parsed


@dataclass(frozen=True)
class Changed:
    """One version written in a window, of a CVE the window's query selected."""

    cve_id: str
    version: int
    valid_from: datetime
    changes: list[str]
    state: str


def changed_between(
    conn: Any, since: datetime, until: datetime, vendors: list[str], products: list[str], limit: int = 200
) -> list[Changed]:
    """Versions valid from ``[since, until)`` of CVEs naming one of ``vendors``/``products``
    (current names), newest first."""
    query = (
        "SELECT v.cve_id, v.version, v.valid_from, v.changes, v.state FROM cve_versions v"
        " JOIN cves c USING (cve_id) WHERE v.valid_from >= %s AND v.valid_from < %s"
        " AND (c.vendors && %s::text[] OR c.products && %s::text[])"
        " ORDER BY v.valid_from DESC, v.cve_id, v.version DESC LIMIT %s"
    )
    rows = conn.execute(query, [since, until, vendors, products, limit]).fetchall()
    return [Changed(r[0], int(r[1]), r[2], list(r[3]), r[4]) for r in rows]


def enrichment_versions(conn: Any) -> dict[str, str | None]:
    """``{"kev": catalogVersion, "epss": score date}`` of the loads the store holds."""
    return {str(s): v for s, v in conn.execute("SELECT source, version FROM enrichment_loads").fetchall()}


def projected(version: CveVersion) -> dict[str, Any]:
    """The ``cves`` columns a version had while current, from its record (which must be loaded)."""
    n = normalise(version.record or {}, DocumentKind(version.kind), version.cve_id)
    row: dict[str, Any] = {
        "cve_id": version.cve_id,
        "version": version.version,
        "state": n.state,
        "assigner": n.assigner,
        "title": n.title,
        "description": n.description,
        "date_published": n.date_published,
        "date_updated": n.date_updated,
        "date_rejected": n.date_rejected,
        "cwe_ids": n.cwe_ids,
        "vendors": n.vendors,
        "products": n.products,
        "cpes": n.cpes,
        "kev_date_added": n.kev_date_added,
        "ssvc_exploitation": n.ssvc.get("exploitation"),
        "ssvc_automatable": n.ssvc.get("automatable"),
        "ssvc_technical_impact": n.ssvc.get("technical_impact"),
        "base_score": n.base.score if n.base else None,
        "base_severity": n.base.severity if n.base else None,
        "valid_from": version.valid_from,
    }
    for v in CVSS_VERSIONS:
        metric = n.cvss.get(v)
        row[f"cvss_{v}_score"] = metric.score if metric else None
        row[f"cvss_{v}_severity"] = metric.severity if metric else None
        row[f"cvss_{v}_vector"] = metric.vector if metric else None
    return row


@dataclass(frozen=True)
class VersionDiff:
    """Two versions of one CVE and what differs between them (``changes`` by topic, field diffs)."""

    old: CveVersion
    new: CveVersion
    changes: list[str]
    diff: list[dict[str, Any]]


def diff_versions(conn: Any, cve_id: str, from_ref: str | None, to_ref: str | None) -> VersionDiff | None:
    """The diff between the versions ``from_ref`` and ``to_ref`` name (see :func:`pick`); ``to``
    defaults to the current version and ``from`` to the one before ``to``.  ``None`` when the
    store has no such CVE; :class:`NoSuchVersion` or ValueError for a ref that names nothing."""
    chain = versions(conn, [cve_id]).get(cve_id)
    if not chain:
        return None
    new = pick(chain, to_ref, chain[-1])
    old = pick(chain, from_ref, chain[max(0, new.version - 2)])
    rows = conn.execute(
        "SELECT version, record FROM cve_versions WHERE cve_id = %s AND version = ANY(%s)",
        [cve_id, [old.version, new.version]],
    ).fetchall()
    records = {int(v): r for v, r in rows}
    old, new = (
        dataclasses.replace(old, record=records[old.version]),
        dataclasses.replace(new, record=records[new.version]),
    )
    if old.version == new.version:
        return VersionDiff(old, new, [], [])
    kinds = DocumentKind(old.kind), DocumentKind(new.kind)
    changes = summarise(old.record, new.record, *kinds)
    return VersionDiff(old, new, changes, field_diff(old.record, new.record))
