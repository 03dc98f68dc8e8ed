"""Decoding and validating one Kafka message of the records topic (data-plane contract).

The store re-validates everything it consumes (defence in depth: the topic may hold
messages written by something other than workloads.feed).  A message becomes either an
:class:`Incoming` record ready for versioning, or a :class:`Rejected` one bound for the
dead-letter topic with a contract reason code; it never raises, so one bad message can
never block its partition.

Parsing uses orjson (several times faster than ``json``); its strictness matches what
PostgreSQL's jsonb accepts (no NaN, no lone surrogates).  The content hash must equal
``workloads.common.records.content_hash``: the ``cverag-sha256`` header is trusted only
once checked against orjson's sorted-key serialisation, which is byte-identical to
:func:`canonical_bytes` for ordinary records; when they disagree (header absent, lying, or
an exotic number) the authoritative slow path decides.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from workloads.common.records import CVE_ID, DocumentKind, content_hash, cve_id, date_updated, document_kind
from workloads.store import fields
from workloads.store.normalise import normalise
from workloads.store.projection import Normalised

OBSERVED_AT_HEADER = "cverag-observed-at"
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class RawMessage(NamedTuple):
    """The parts of a Kafka message the store reads (kept free of confluent_kafka types)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int | None


@dataclass(slots=True)
class Incoming:
    raw: RawMessage
    cve_id: str
    sha256: str
    kind: DocumentKind
    text: str
    normalised: Normalised
    date_updated: datetime | None
    observed_at: datetime
    hash_header_ok: bool

    def doc(self) -> Any:
        """The parsed record, parsed again on demand: only versions that change a known CVE
        need it (for diffs), and holding every parsed batch cost hundreds of MB."""
        return orjson.loads(self.text)


@dataclass(slots=True)
class Rejected:
    raw: RawMessage
    reason: str
    detail: str


def header_map(
    headers: Mapping[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None,
) -> dict[str, str]:
    """Kafka headers as text; a header repeated keeps its last value."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or []
    return {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v for k, v in pairs if v is not None}


def _verified_hash(doc: Any, text: str, claimed: str | None) -> tuple[str, bool]:
    fast = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if claimed is not None and fast == claimed:
        return fast, True
    exact = content_hash(json.loads(text))
    return exact, exact == claimed


def observed_at(raw: RawMessage, updated: datetime | None) -> datetime:
    """Start of validity of this content: when the source says it was seen, else its
    ``dateUpdated``, else the Kafka timestamp.  All three are replay-stable, so reloading a
    topic rebuilds identical history (ingest wall-clock time would not)."""
    chosen = fields.timestamp(raw.headers.get(OBSERVED_AT_HEADER)) or updated
    if chosen is not None:
        return chosen
    if raw.timestamp_ms is not None and raw.timestamp_ms > 0:
        return datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC)
    return datetime.now(UTC)


def decode(raw: RawMessage) -> Incoming | Rejected:
    if raw.value is None:
        return Rejected(raw, "not-a-cve-record", "message has no value (a tombstone); CVEs are never deleted")
    try:
        text = raw.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(raw, "invalid-utf8", f"value is not UTF-8: {exc}")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Rejected(raw, "invalid-json", str(exc))
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        return Rejected(raw, "invalid-json", "contains \\u0000, which PostgreSQL jsonb cannot store")
    kind = document_kind(doc)
    if kind is None:
        return Rejected(raw, "not-a-cve-record", "neither a CVE JSON 5 record nor an NVD 2.0 item")
    claimed_id = cve_id(doc)
    if not claimed_id or not CVE_ID.match(claimed_id):
        return Rejected(raw, "missing-id", f"the document carries no valid CVE id ({claimed_id!r})")
    key = raw.key.decode("utf-8", "replace") if raw.key is not None else None
    if key != claimed_id:
        why = "no key" if key is None else f"key {key!r}"
        return Rejected(raw, "id-mismatch", f"message has {why} but the document is {claimed_id}")
    sha, header_ok = _verified_hash(doc, text, raw.headers.get("cverag-sha256"))
    updated = fields.timestamp(date_updated(doc))
    return Incoming(
        raw=raw,
        cve_id=claimed_id,
        sha256=sha,
        kind=kind,
        text=text,
        normalised=normalise(doc, kind, claimed_id),
        date_updated=updated,
        observed_at=observed_at(raw, updated),
        hash_header_ok=header_ok,
    )
