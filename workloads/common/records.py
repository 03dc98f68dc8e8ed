"""Identity and content hashing of CVE documents, shared by the feed and the store.

Two document shapes travel through cverag unchanged: CVE JSON 5.x records
(``dataType: CVE_RECORD``, from cvelistV5 or a file) and NVD API 2.0 vulnerability items
(``{"cve": {"id": ..., "lastModified": ...}}``).  The producer and the store must agree on
the id and on the content hash, or the store could not tell "same content again" from
"new version"; that agreement lives here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Any

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")


class DocumentKind(StrEnum):
    CVE_RECORD = "cve5"
    NVD_ITEM = "nvd2"


def canonical_bytes(doc: Any) -> bytes:
    """A stable serialisation: sorted keys, no insignificant whitespace, UTF-8.

    Upstream files differ only in formatting between mirrors (pretty-printed in cvelistV5,
    compact in JSON lines), so hashing the canonical form makes identical content identical.
    """
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(doc: Any) -> str:
    """Hex sha256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def document_kind(doc: Any) -> DocumentKind | None:
    """Which known shape ``doc`` has, or ``None`` when it is neither."""
    if not isinstance(doc, dict):
        return None
    if doc.get("dataType") == "CVE_RECORD" and isinstance(doc.get("cveMetadata"), dict):
        return DocumentKind.CVE_RECORD
    cve = doc.get("cve")
    if isinstance(cve, dict) and isinstance(cve.get("id"), str):
        return DocumentKind.NVD_ITEM
    return None


def cve_id(doc: Any) -> str | None:
    """The CVE id a document is about, or ``None`` when it carries none."""
    kind = document_kind(doc)
    if kind is DocumentKind.CVE_RECORD:
        value = doc["cveMetadata"].get("cveId")
    elif kind is DocumentKind.NVD_ITEM:
        value = doc["cve"].get("id")
    else:
        return None
    return value if isinstance(value, str) else None


def date_updated(doc: Any) -> str | None:
    """Upstream's own "last changed" timestamp (``dateUpdated`` or NVD ``lastModified``)."""
    kind = document_kind(doc)
    if kind is DocumentKind.CVE_RECORD:
        value = doc["cveMetadata"].get("dateUpdated")
    elif kind is DocumentKind.NVD_ITEM:
        value = doc["cve"].get("lastModified")
    else:
        return None
    return value if isinstance(value, str) else None
