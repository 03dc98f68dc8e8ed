"""The projection of one CVE document onto the ``cves`` columns, whatever its source format.

Both normalisers (CVE JSON 5.x in :mod:`normalise`, NVD API 2.0 in :mod:`nvd`) fill the
same :class:`Normalised`, so the writer, the queries and the tests see one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from workloads.common.records import DocumentKind
from workloads.store import fields as f

if TYPE_CHECKING:
    from workloads.store.assessments import Assessment

CVSS_VERSIONS = ("v40", "v31", "v30", "v20")
CWE_ID = re.compile(r"\bCWE-\d+\b")


@dataclass(frozen=True, slots=True)
class Cvss:
    score: float | None
    severity: str | None
    vector: str | None


@dataclass(slots=True)
class Normalised:
    """One record's projection onto the ``cves`` columns."""

    cve_id: str
    kind: DocumentKind
    state: str
    assigner: str | None = None
    date_published: datetime | None = None
    date_updated: datetime | None = None
    date_reserved: datetime | None = None
    date_rejected: datetime | None = None
    title: str | None = None
    description: str | None = None
    cvss: dict[str, Cvss] = field(default_factory=dict)
    cwe_ids: list[str] = field(default_factory=list)
    vendors: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    vendor_products: list[str] = field(default_factory=list)
    cpes: list[str] = field(default_factory=list)
    kev_date_added: date | None = None
    ssvc: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)
    """Every assessor's CVSS and CWE, labelled (:mod:`workloads.store.assessments`)."""

    @property
    def base(self) -> Cvss | None:
        """The newest CVSS version present: what ``min_score``/``min_severity`` filter on."""
        return next((self.cvss[v] for v in CVSS_VERSIONS if v in self.cvss), None)


def english(descriptions: Any) -> str | None:
    """The first description in English (``en``, ``en-US``, ``eng``), else the first one."""
    items = list(f.dicts(descriptions))
    chosen = next((d for d in items if str(d.get("lang", "")).lower().startswith("en")), None)
    return f.text((chosen or (items[0] if items else {})).get("value"))


def cvss_of(metric: dict[str, Any], key: str) -> Cvss | None:
    body = f.as_dict(metric.get(key))
    base = f.score(body.get("baseScore"))
    vector = f.text(body.get("vectorString"))
    if base is None and vector is None:
        return None
    rating = f.severity(body.get("baseSeverity")) or f.severity_from_score(base, v2=key == "cvssV2_0")
    return Cvss(base, rating, vector)
