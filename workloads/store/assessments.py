"""Every assessment of a CVE with its provenance: who scored it, which CWE they chose, when.

A CVE has several assessors and they disagree: the CNA that published it, CISA's ADP
container (Vulnrichment), and NVD's own analysis (``nvd@nist.gov`` in an NVD API 2.0 item).
The ``cves`` columns keep one value per field (CNA first); this module extracts *all* of
them, labelled, so answers can show "the NVD score" beside the CNA's
(docs/provenance.md).  Extraction runs in the normaliser (decode thread), not the writer.

Sources, and the order answers list them in (:data:`PREFERENCE`; OpenCVE's
MITRE > Vulnrichment > NVD):

* ``CNA``: the record's ``containers.cna`` (provider: its ``providerMetadata.shortName``);
* ``CISA-ADP``: the ADP container of CISA (``shortName`` ``CISA-ADP``); other ADPs are ``ADP``;
* ``NVD``: an NVD item's metrics and weaknesses whose ``source`` is ``nvd@nist.gov``.  An NVD
  item also relays the CNA's and CISA-ADP's metrics (``source`` their e-mail or UUID); those
  are kept as ``CNA``/``CISA-ADP`` with origin ``nvd``, and a CVE 5 record's own beat them.

``recorded_at`` is the container's ``providerMetadata.dateUpdated`` (CVE 5) or the item's
``lastModified`` (NVD: per-metric dates are not published).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workloads.store import fields as f
from workloads.store.projection import CWE_ID

PREFERENCE = ("CNA", "CISA-ADP", "ADP", "NVD")
NVD_SOURCE = "nvd@nist.gov"
CISA_ADP_ORG = "134c704f-9b21-4f2e-91b3-4a467353bcc0"
CVE5_CVSS = {"cvssV4_0": "cvss_v40", "cvssV3_1": "cvss_v31", "cvssV3_0": "cvss_v30", "cvssV2_0": "cvss_v20"}
NVD_CVSS = {
    "cvssMetricV40": "cvss_v40",
    "cvssMetricV31": "cvss_v31",
    "cvssMetricV30": "cvss_v30",
    "cvssMetricV2": "cvss_v20",
}
KINDS = (*CVE5_CVSS.values(), "cwe")


@dataclass(frozen=True, slots=True)
class Assessment:
    """One assessor's value for one kind of fact (a CVSS version's vector and score, or a CWE)."""

    source: str
    provider: str | None
    kind: str
    value: str | None
    score: float | None = None
    severity: str | None = None
    recorded_at: datetime | None = None


def _cvss(
    kind: str, body: dict[str, Any], source: str, provider: str | None, at: datetime | None
) -> Assessment | None:
    score, vector = f.score(body.get("baseScore")), f.text(body.get("vectorString"))
    if score is None and vector is None:
        return None
    rating = f.severity(body.get("baseSeverity")) or f.severity_from_score(score, v2=kind == "cvss_v20")
    return Assessment(source, provider, kind, vector, score, rating, at)


def _adp_source(meta: dict[str, Any]) -> str:
    cisa = f.text(meta.get("shortName")) == "CISA-ADP" or f.text(meta.get("orgId")) == CISA_ADP_ORG
    return "CISA-ADP" if cisa else "ADP"


def _container(container: dict[str, Any], source: str) -> list[Assessment]:
    meta = f.as_dict(container.get("providerMetadata"))
    provider, at = (
        f.text(meta.get("shortName")) or f.text(meta.get("orgId")),
        f.timestamp(meta.get("dateUpdated")),
    )
    found: list[Assessment] = []
    for metric in f.dicts(container.get("metrics")):
        for key, kind in CVE5_CVSS.items():
            if key in metric and (one := _cvss(kind, f.as_dict(metric[key]), source, provider, at)):
                found.append(one)
    cwes: list[str | None] = []
    for problem in f.dicts(container.get("problemTypes")):
        for desc in f.dicts(problem.get("descriptions")):
            cwe = f.text(desc.get("cweId"))
            cwes.extend([cwe] if cwe else CWE_ID.findall(str(desc.get("description", ""))))
    found.extend(Assessment(source, provider, "cwe", cwe, recorded_at=at) for cwe in f.unique(cwes))
    return found


def from_cve5(cna: dict[str, Any], adp: list[dict[str, Any]]) -> list[Assessment]:
    """The CNA's and every ADP's assessments in a CVE JSON 5 record."""
    found = _container(cna, "CNA")
    for container in adp:
        found.extend(_container(container, _adp_source(f.as_dict(container.get("providerMetadata")))))
    return found


def _nvd_source(source: str | None) -> str:
    if source == NVD_SOURCE:
        return "NVD"
    return "CISA-ADP" if source == CISA_ADP_ORG else "CNA"


def from_nvd(cve: dict[str, Any]) -> list[Assessment]:
    """Every metric and weakness of an NVD item's ``cve`` object, labelled by its ``source``."""
    at = f.timestamp(cve.get("lastModified"))
    found: list[Assessment] = []
    metrics = f.as_dict(cve.get("metrics"))
    for key, kind in NVD_CVSS.items():
        for entry in f.dicts(metrics.get(key)):
            source = f.text(entry.get("source"))
            body = {"baseSeverity": entry.get("baseSeverity"), **f.as_dict(entry.get("cvssData"))}
            if one := _cvss(kind, body, _nvd_source(source), source, at):
                found.append(one)
    for weakness in f.dicts(cve.get("weaknesses")):
        source = f.text(weakness.get("source"))
        cwes = (
            c for d in f.dicts(weakness.get("description")) for c in CWE_ID.findall(str(d.get("value", "")))
        )
        found.extend(
            Assessment(_nvd_source(source), source, "cwe", c, recorded_at=at) for c in f.unique(cwes)
        )
    return found
