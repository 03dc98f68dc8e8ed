"""Per-record validation: publishable (with the contract headers) or rejected with a reason.

Every source goes through this one function, in a fixed order from cheapest to dearest:
size, UTF-8, JSON, shape, id, id-versus-filename, then the hash (which refuses nesting deeper
than :data:`~workloads.common.records.MAX_DEPTH`).  A rejection keeps the id the record
*claims* (from its file name or a quick look at its text) so the dead-letter entry can be
found by CVE id even when the record itself cannot be parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workloads.common.records import MAX_DEPTH, DocumentKind, cve_id, date_updated, document_kind, is_cve_id
from workloads.feed.contract import Reason
from workloads.feed.fingerprint import NotJson, TooDeep, fingerprint, parse
from workloads.feed.model import RawRecord

# Only looked for in rejected records, to key their dead-letter entry.
_CLAIMED_ID = re.compile(rb'"(?:cveId|id)"\s*:\s*"(CVE-[0-9]{4}-[0-9]{4,})"')
_CLAIM_WINDOW = 64 * 1024


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~2 µs per record
class Publishable:
    key: str
    sha256: str
    date_updated: str | None
    kind: DocumentKind


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~2 µs per record
class Rejection:
    reason: Reason
    detail: str
    claimed_id: str | None


def check(record: RawRecord, max_bytes: int) -> Publishable | Rejection:
    """Decide what happens to ``record``; never raises for bad input."""
    data = record.data
    if len(data) > max_bytes:
        return _reject(record, Reason.TOO_LARGE, f"record is {len(data):,} bytes; the limit is {max_bytes:,}")
    try:
        doc, fast = parse(data)
    except UnicodeDecodeError as exc:
        return _reject(record, Reason.INVALID_UTF8, f"not UTF-8: {exc.reason} at byte {exc.start}")
    except NotJson as exc:
        return _reject(record, Reason.INVALID_JSON, str(exc))
    except TooDeep as exc:
        return _reject(record, Reason.TOO_DEEP, f"{exc}; the limit is {MAX_DEPTH} levels")
    kind = document_kind(doc)
    if kind is None:
        return _reject(record, Reason.NOT_A_CVE_RECORD, _shape_detail(doc))
    identifier = cve_id(doc)
    if not is_cve_id(identifier):
        return _reject(record, Reason.MISSING_ID, f"{kind.value} document carries no CVE id ({identifier!r})")
    if record.filename_id is not None and record.filename_id != identifier:
        detail = f"file {record.origin} claims {record.filename_id} but the record is {identifier}"
        return Rejection(Reason.ID_MISMATCH, detail, record.filename_id)
    try:
        sha256 = fingerprint(data, doc, fast)
    except TooDeep as exc:
        return Rejection(Reason.TOO_DEEP, f"{exc}; the limit is {MAX_DEPTH} levels", identifier)
    except UnicodeEncodeError as exc:
        return Rejection(Reason.INVALID_UTF8, f"text has no UTF-8 form: {exc.reason}", identifier)
    return Publishable(identifier, sha256, date_updated(doc), kind)


def _reject(record: RawRecord, reason: Reason, detail: str) -> Rejection:
    return Rejection(reason, detail, record.filename_id or claimed_id(record.data))


def claimed_id(data: bytes) -> str | None:
    """The first CVE id a record's text names as its own, without parsing it."""
    match = _CLAIMED_ID.search(data, 0, _CLAIM_WINDOW)
    return match.group(1).decode() if match else None


def _shape_detail(doc: Any) -> str:
    if not isinstance(doc, dict):
        return f"top-level JSON value is {type(doc).__name__}, not an object"
    if doc.get("dataType") == "CVE_RECORD":
        return "dataType is 'CVE_RECORD' but there is no cveMetadata object"
    if "dataType" in doc:
        return f"dataType is {doc['dataType']!r}, expected 'CVE_RECORD'"
    return "neither a CVE JSON 5 record (dataType CVE_RECORD) nor an NVD item ({cve: {id}})"
