"""Reading assessments back, in the documented order of preference, and saying them in one line each.

Order (docs/provenance.md): by kind (CVSS 4.0, 3.1, 3.0, 2.0, CWE), then by source
(CNA > CISA-ADP > other ADP > NVD, OpenCVE's MITRE > Vulnrichment > NVD), then by origin
(the CVE 5 record's own container before what an NVD item relays of it).  A relayed value is
left out when the record itself carries the same source's assessment of that kind: it is
the same assessor's word, possibly older.
"""

from __future__ import annotations

from typing import Any

from workloads.store.assessments import KINDS, PREFERENCE

LABELS = {
    "cvss_v40": "CVSS 4.0",
    "cvss_v31": "CVSS 3.1",
    "cvss_v30": "CVSS 3.0",
    "cvss_v20": "CVSS 2.0",
    "cwe": "CWE",
}
_QUERY = (
    "SELECT cve_id, origin, source, provider, kind, value, score::float8, severity, recorded_at"
    " FROM assessments WHERE cve_id = ANY(%s)"
)


def _rank(row: dict[str, Any]) -> tuple[int, int, int]:
    source = PREFERENCE.index(row["source"]) if row["source"] in PREFERENCE else len(PREFERENCE)
    return KINDS.index(row["kind"]) if row["kind"] in KINDS else len(KINDS), source, row["origin"] != "cve5"


def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` of one CVE in preference order, relayed duplicates of a direct source dropped."""
    direct = {(r["kind"], r["source"]) for r in rows if r["origin"] == "cve5"}
    kept = [r for r in rows if r["origin"] == "cve5" or (r["kind"], r["source"]) not in direct]
    return sorted(kept, key=_rank)


def read(conn: Any, cve_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``cve_id -> assessments`` (JSON-ready dicts) for the ids that have any."""
    if not cve_ids:
        return {}
    by_cve: dict[str, list[dict[str, Any]]] = {}
    for cve_id, origin, source, provider, kind, value, score, severity, at in conn.execute(_QUERY, [cve_ids]):
        by_cve.setdefault(cve_id, []).append(
            {
                "kind": kind,
                "source": source,
                "provider": provider,
                "origin": origin,
                "value": value,
                "score": score,
                "severity": severity,
                "recorded_at": at.isoformat() if at else None,
            }
        )
    return {cve: ordered(rows) for cve, rows in by_cve.items()}


def _said(row: dict[str, Any]) -> str:
    who = row["source"] + (" via NVD" if row["origin"] == "nvd" and row["source"] != "NVD" else "")
    if row["provider"] and row["source"] != "NVD":
        who += f" {row['provider']}"
    parts = [
        f"{row['score']:.1f}" if row["score"] is not None else "",
        row["severity"] or "",
        row["value"] or "",
    ]
    when = f" ({row['recorded_at'][:10]})" if row["recorded_at"] else ""
    return f"{who}: " + " ".join(p for p in parts if p) + when


def lines(assessments: list[dict[str, Any]]) -> list[str]:
    """One facts-block line per kind naming every assessor, e.g. ``CVSS 3.1 by source: CNA ...; NVD ...``."""
    by_kind: dict[str, list[str]] = {}
    for row in assessments:
        by_kind.setdefault(row["kind"], []).append(_said(row))
    return [f"{LABELS.get(kind, kind)} by source: " + "; ".join(said) for kind, said in by_kind.items()]
