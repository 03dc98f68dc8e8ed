"""NVD items as enrichment of a CVE 5 record, and the assessments table, inside the batch transaction.

Routing (:func:`split`), per CVE and in consumption order: once the store holds a CVE 5
record of a CVE (stored current version, or earlier in the same batch), every NVD item of
it is *enrichment*: it replaces the CVE's row in ``nvd_items`` and its ``nvd`` assessments
and never becomes a version.  Before that (a store fed from the NVD only, or an NVD item that
came first) an NVD item is a version as it always was, so an NVD-only store still answers
everything.  A CVE's versions therefore change format at most once, from NVD items to CVE 5
records, and never back: mixing both feeds cannot make them flip.

Assessments are replaced per (CVE, origin): the CVE 5 version that becomes current rewrites
the ``cve5`` rows, the last NVD item of the batch the ``nvd`` rows.  Either order of
arrival ends with the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from workloads.common.records import DocumentKind
from workloads.store import fields as f
from workloads.store.assessments import Assessment
from workloads.store.messages import Incoming
from workloads.store.versioning import Current, Plan

_COLUMNS = "cve_id, origin, source, provider, kind, value, score, severity, recorded_at, version"


def split(incoming: list[Incoming], current: dict[str, Current]) -> tuple[list[Incoming], list[Incoming]]:
    """``(versions, enrichment)``: the records that version their CVE, and NVD items that enrich one."""
    held = {cve for cve, c in current.items() if c.kind is DocumentKind.CVE_RECORD}
    versions: list[Incoming] = []
    enrichment: list[Incoming] = []
    for inc in incoming:
        if inc.kind is DocumentKind.NVD_ITEM and inc.cve_id in held:
            enrichment.append(inc)
            continue
        versions.append(inc)
        if inc.kind is DocumentKind.CVE_RECORD:
            held.add(inc.cve_id)
    return versions, enrichment


def _rows(
    cve_id: str, origin: str, version: int | None, found: Iterable[Assessment]
) -> Iterable[tuple[Any, ...]]:
    for a in found:
        yield (
            cve_id,
            origin,
            a.source,
            a.provider,
            a.kind,
            a.value,
            a.score,
            a.severity,
            a.recorded_at,
            version,
        )


def write(cur: psycopg.Cursor[Any], result: Plan, enrichment: list[Incoming], known: set[str]) -> None:
    """Rewrite the assessments of what changed in this batch, and the NVD items it carried."""
    cve5 = {c: v for c, v in result.current.items() if v.incoming.kind is DocumentKind.CVE_RECORD}
    nvd: dict[str, Incoming] = {
        v.incoming.cve_id: v.incoming for v in result.versions if v.incoming.kind is DocumentKind.NVD_ITEM
    }
    for inc in enrichment:  # later in the batch wins; versions and enrichment of one CVE never mix
        nvd[inc.cve_id] = inc
    _replace(
        cur,
        "cve5",
        sorted(c for c in cve5 if c in known),
        (
            row
            for c, v in sorted(cve5.items())
            for row in _rows(c, "cve5", v.version, v.incoming.normalised.assessments)
        ),
    )
    _replace(
        cur,
        "nvd",
        sorted(nvd),
        (row for c, inc in sorted(nvd.items()) for row in _rows(c, "nvd", None, inc.normalised.assessments)),
    )
    if nvd:
        _upsert_items(cur, [nvd[c] for c in sorted(nvd)])


def _replace(
    cur: psycopg.Cursor[Any], origin: str, stale: list[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    if stale:
        cur.execute("DELETE FROM assessments WHERE cve_id = ANY(%s) AND origin = %s", [stale, origin])
    rows = list(rows)
    if not rows:
        return
    with cur.copy(f"COPY assessments ({_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _upsert_items(cur: psycopg.Cursor[Any], items: list[Incoming]) -> None:
    cur.executemany(
        "INSERT INTO nvd_items (cve_id, sha256, vuln_status, last_modified, topic, kafka_partition, kafka_offset,"
        " record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (cve_id) DO UPDATE SET"
        " sha256 = EXCLUDED.sha256, vuln_status = EXCLUDED.vuln_status, last_modified = EXCLUDED.last_modified,"
        " topic = EXCLUDED.topic, kafka_partition = EXCLUDED.kafka_partition,"
        " kafka_offset = EXCLUDED.kafka_offset, record = EXCLUDED.record, ingested_at = now()",
        [
            (
                inc.cve_id,
                inc.sha256,
                f.text(f.as_dict(inc.doc().get("cve")).get("vulnStatus")),
                inc.date_updated,
                inc.raw.topic,
                inc.raw.partition,
                inc.raw.offset,
                inc.text,
            )
            for inc in items
        ],
    )
