"""NVD API 2.0 vulnerability items mapped onto the same columns as CVE JSON 5.x records.

A store fed from the NVD answers the same queries as one fed from cvelistV5, so the
mapping follows the CVE 5 rules as closely as NVD's shape allows:

* state: ``vulnStatus`` "Rejected" is REJECTED, anything else (Analyzed, Modified,
  Awaiting Analysis, ...) is PUBLISHED; the assigner is ``sourceIdentifier``.
* CVSS: per version the first ``Secondary`` metric (the CNA's score as NVD relays it,
  matching "CNA first") and else the first ``Primary`` one (NVD's own, like an ADP's).
* CWE ids from ``weaknesses`` (placeholders such as ``NVD-CWE-Other`` dropped).
* vendors/products/CPEs from the ``vulnerable`` CPE matches of ``configurations``;
  platform-only matches (``vulnerable: false``) describe where it runs, not what is affected.
* KEV date from ``cisaExploitAdd``; the title is ``cisaVulnerabilityName`` when NVD has
  one (NVD items carry no title otherwise); NVD carries no SSVC and no reservation date.
"""

from __future__ import annotations

from typing import Any

from workloads.common.records import DocumentKind
from workloads.store import fields as f
from workloads.store.assessments import from_nvd
from workloads.store.projection import CWE_ID, Cvss, Normalised, english

NVD_METRICS = {"cvssMetricV40": "v40", "cvssMetricV31": "v31", "cvssMetricV30": "v30", "cvssMetricV2": "v20"}


def _cvss(entry: dict[str, Any], v2: bool) -> Cvss | None:
    data = f.as_dict(entry.get("cvssData"))
    base = f.score(data.get("baseScore"))
    vector = f.text(data.get("vectorString"))
    if base is None and vector is None:
        return None
    rating = f.severity(data.get("baseSeverity")) or f.severity(entry.get("baseSeverity"))
    return Cvss(base, rating or f.severity_from_score(base, v2), vector)


def _pick(entries: list[dict[str, Any]], v2: bool) -> Cvss | None:
    ordered = sorted(entries, key=lambda e: 0 if e.get("type") == "Secondary" else 1)
    return next((c for c in (_cvss(e, v2) for e in ordered) if c), None)


def _vulnerable_cpes(cve: dict[str, Any]) -> list[str]:
    found: list[str | None] = []
    for config in f.dicts(cve.get("configurations")):
        for node in f.dicts(config.get("nodes")):
            found.extend(
                f.text(m.get("criteria")) for m in f.dicts(node.get("cpeMatch")) if m.get("vulnerable")
            )
    return f.unique(found)


def normalise_nvd(doc: dict[str, Any], cve_id: str) -> Normalised:
    cve = f.as_dict(doc.get("cve"))
    status = f.text(cve.get("vulnStatus")) or ""
    result = Normalised(
        cve_id=cve_id,
        kind=DocumentKind.NVD_ITEM,
        state="REJECTED" if status.lower() == "rejected" else "PUBLISHED",
        assigner=f.text(cve.get("sourceIdentifier")),
        date_published=f.timestamp(cve.get("published")),
        date_updated=f.timestamp(cve.get("lastModified")),
        title=f.text(cve.get("cisaVulnerabilityName")),
        description=english(cve.get("descriptions")),
        kev_date_added=f.day(cve.get("cisaExploitAdd")),
    )
    metrics = f.as_dict(cve.get("metrics"))
    for key, version in NVD_METRICS.items():
        if found := _pick(list(f.dicts(metrics.get(key))), v2=version == "v20"):
            result.cvss[version] = found
    result.cwe_ids = f.unique(
        cwe
        for weakness in f.dicts(cve.get("weaknesses"))
        for desc in f.dicts(weakness.get("description"))
        for cwe in CWE_ID.findall(str(desc.get("value", "")))
    )
    result.cpes = _vulnerable_cpes(cve)
    pairs = [tuple(map(f.lowered, f.cpe_vendor_product(cpe))) for cpe in result.cpes]
    result.vendors = f.unique(v for v, _ in pairs)
    result.products = f.unique(p for _, p in pairs)
    result.vendor_products = f.unique(f"{v}:{p}" if v and p else None for v, p in pairs)
    result.assessments = from_nvd(cve)
    return result
