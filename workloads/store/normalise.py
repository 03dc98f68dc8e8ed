"""Normalised columns of a CVE JSON 5.x record: what users filter, sort and search on.

The full record is always kept as jsonb; these columns are a projection of it, computed
once at ingest so that queries never dig through nested JSON.  Rules (documented here
because tests and the RAG API depend on them):

* CVSS: for each CVSS version (4.0, 3.1, 3.0, 2.0) the first metric in the CNA container,
  else the first in the ADP containers in record order.  ``base_*`` is the newest version
  present.  v2.0 carries no severity; it is derived from the score.
* CWE ids, vendors, products, CPEs: the union over the CNA and every ADP container.
  Vendors and products are case-folded (``n/a`` dropped) so filters match regardless of
  spelling; ``vendor_products`` holds ``vendor:product`` pairs.
* KEV: ``dateAdded`` of the CISA-ADP ``kev`` metric; SSVC: the CISA-ADP ``ssvc`` options.
* Description: the first English description; a REJECTED record's rejection reason.
"""

from __future__ import annotations

from typing import Any

from workloads.common.records import DocumentKind
from workloads.store import fields as f
from workloads.store.assessments import from_cve5
from workloads.store.nvd import normalise_nvd
from workloads.store.projection import CWE_ID, Normalised, cvss_of, english

CVSS_KEYS = {"cvssV4_0": "v40", "cvssV3_1": "v31", "cvssV3_0": "v30", "cvssV2_0": "v20"}


def _containers(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    containers = f.as_dict(doc.get("containers"))
    return f.as_dict(containers.get("cna")), list(f.dicts(containers.get("adp")))


def _other_metric(adp: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Content of the first ``other`` metric of ``kind`` (``kev``, ``ssvc``) in the ADP containers."""
    for container in adp:
        for metric in f.dicts(container.get("metrics")):
            other = f.as_dict(metric.get("other"))
            if other.get("type") == kind:
                return f.as_dict(other.get("content"))
    return {}


def _ssvc(content: dict[str, Any]) -> dict[str, str]:
    names = {
        "exploitation": "exploitation",
        "automatable": "automatable",
        "technical impact": "technical_impact",
    }
    decisions: dict[str, str] = {}
    for option in f.dicts(content.get("options")):
        for key, value in option.items():
            column = names.get(key.lower())
            if column and isinstance(value, str):
                decisions[column] = value.lower()
    return decisions


def _cwe_ids(containers: list[dict[str, Any]]) -> list[str]:
    found: list[str | None] = []
    for container in containers:
        for problem in f.dicts(container.get("problemTypes")):
            for desc in f.dicts(problem.get("descriptions")):
                cwe = f.text(desc.get("cweId"))
                found.extend([cwe] if cwe else CWE_ID.findall(str(desc.get("description", ""))))
    return f.unique(found)


def _affected(containers: list[dict[str, Any]], normalised: Normalised) -> None:
    vendors: list[str | None] = []
    products: list[str | None] = []
    pairs: list[str | None] = []
    cpes: list[str | None] = []
    for container in containers:
        for item in f.dicts(container.get("affected")):
            vendor, product = f.lowered(f.text(item.get("vendor"))), f.lowered(f.text(item.get("product")))
            vendors.append(vendor)
            products.append(product)
            pairs.append(f"{vendor}:{product}" if vendor and product else None)
            cpes.extend(f.strings(item.get("cpes")))
        for applicability in f.dicts(container.get("cpeApplicability")):
            for node in f.dicts(applicability.get("nodes")):
                cpes.extend(f.text(m.get("criteria")) for m in f.dicts(node.get("cpeMatch")))
    normalised.vendors, normalised.products = f.unique(vendors), f.unique(products)
    normalised.vendor_products, normalised.cpes = f.unique(pairs), f.unique(cpes)


def normalise_cve5(doc: dict[str, Any], cve_id: str) -> Normalised:
    meta = f.as_dict(doc.get("cveMetadata"))
    cna, adp = _containers(doc)
    state = (f.text(meta.get("state")) or "PUBLISHED").upper()
    result = Normalised(
        cve_id=cve_id,
        kind=DocumentKind.CVE_RECORD,
        state=state,
        assigner=f.text(meta.get("assignerShortName")) or f.text(meta.get("assignerOrgId")),
        date_published=f.timestamp(meta.get("datePublished")),
        date_updated=f.timestamp(meta.get("dateUpdated")),
        date_reserved=f.timestamp(meta.get("dateReserved")),
        date_rejected=f.timestamp(meta.get("dateRejected")),
        title=f.text(cna.get("title")),
        description=english(cna.get("descriptions")) or english(cna.get("rejectedReasons")),
        cwe_ids=_cwe_ids([cna, *adp]),
        kev_date_added=f.day(_other_metric(adp, "kev").get("dateAdded")),
        ssvc=_ssvc(_other_metric(adp, "ssvc")),
    )
    for container in [cna, *adp]:
        for metric in f.dicts(container.get("metrics")):
            for key in metric:
                version = CVSS_KEYS.get(key)
                if version and version not in result.cvss and (found := cvss_of(metric, key)):
                    result.cvss[version] = found
    _affected([cna, *adp], result)
    result.assessments = from_cve5(cna, adp)
    return result


def normalise(doc: dict[str, Any], kind: DocumentKind, cve_id: str) -> Normalised:
    """Project ``doc`` (of the kind :func:`workloads.common.records.document_kind` decided)."""
    if kind is DocumentKind.NVD_ITEM:
        return normalise_nvd(doc, cve_id)
    return normalise_cve5(doc, cve_id)
