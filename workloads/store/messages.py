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

Poison records (issue 12) are rejected here, never raised: nesting deeper than
:data:`~workloads.common.records.MAX_DEPTH` (``too-deep``), look-alike ids (``missing-id``),
and anything the normaliser trips over (``unstorable``).  Times from the future are not
refused but clamped (see :func:`bounded`): the content may well be a real update from a
source whose clock is wrong, and refusing it would freeze the CVE on stale content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson

from workloads.common.records import (
    MAX_DEPTH,
    DocumentKind,
    TooDeep,
    content_hash,
    cve_id,
    date_updated,
    document_kind,
    is_cve_id,
    sorted_json,
)
from workloads.store import fields
from workloads.store.normalise import normalise
from workloads.store.projection import Normalised

OBSERVED_AT_HEADER = "cverag-observed-at"
# How far past "now" a record's own times are believed (CVERAG_FUTURE_SKEW_SECONDS).
DEFAULT_FUTURE_SKEW = timedelta(minutes=5)
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
    clamped_from: datetime | None = None
    """The future time the record claimed (observed-at or dateUpdated) when it was clamped."""

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
    fast = hashlib.sha256(sorted_json(doc)).hexdigest()  # raises TooDeep
    if claimed is not None and fast == claimed:
        return fast, True
    exact = content_hash(json.loads(text))
    return exact, exact == claimed


def ceiling(now: datetime | None = None) -> datetime:
    """The latest time a record can truthfully claim: the time it is ingested.  (Not its Kafka
    timestamp: producers may set that to the event time, before the observation.)"""
    return now or datetime.now(UTC)


def bounded(moment: datetime | None, limit: datetime, skew: timedelta) -> tuple[datetime | None, bool]:
    """``moment``, or ``limit`` when ``moment`` lies more than ``skew`` past it (and a flag).

    Clamped to the limit, not to limit + skew: a version claiming 2999 must not stay in the
    future at all, or ``as_of=now`` would answer with its predecessor.  Within the skew the
    claim is kept, since sources' clocks differ by seconds.
    """
    if moment is not None and moment > limit + skew:
        return limit, True
    return moment, False


def observed_at(raw: RawMessage, updated: datetime | None) -> datetime:
    """Start of validity of this content: when the source says it was seen, else its
    ``dateUpdated``, else the Kafka timestamp.  All three are replay-stable, so reloading a
    topic rebuilds identical history (ingest wall-clock time would not)."""
    chosen = fields.timestamp(raw.headers.get(OBSERVED_AT_HEADER)) or updated
    if chosen is not None:
        return chosen
    if raw.timestamp_ms is not None and raw.timestamp_ms > 0:
        with contextlib.suppress(OverflowError, ValueError, OSError):  # a CreateTime beyond the calendar
            return datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC)
    return ceiling()


def decode(raw: RawMessage, future_skew: timedelta = DEFAULT_FUTURE_SKEW) -> Incoming | Rejected:
    """The message as an :class:`Incoming` record or a :class:`Rejected` one; never raises."""
    if raw.value is None:
        return Rejected(raw, "not-a-cve-record", "message has no value (a tombstone); CVEs are never deleted")
    try:
        text = raw.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(raw, "invalid-utf8", f"value is not UTF-8: {exc}")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit"):  # orjson's own limit, 1024 levels
            return Rejected(raw, "too-deep", f"{exc}; the limit is {MAX_DEPTH} levels")
        return Rejected(raw, "invalid-json", str(exc))
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        return Rejected(raw, "invalid-json", "contains \\u0000, which PostgreSQL jsonb cannot store")
    kind = document_kind(doc)
    if kind is None:
        return Rejected(raw, "not-a-cve-record", "neither a CVE JSON 5 record nor an NVD 2.0 item")
    claimed_id = cve_id(doc)
    if not is_cve_id(claimed_id):
        return Rejected(raw, "missing-id", f"the document carries no valid CVE id ({claimed_id!r})")
    key = raw.key.decode("utf-8", "replace") if raw.key is not None else None
    if key != claimed_id:
        why = "no key" if key is None else f"key {key!r}"
        return Rejected(raw, "id-mismatch", f"message has {why} but the document is {claimed_id}")
    try:
        return _incoming(raw, doc, text, kind, claimed_id, future_skew)
    except TooDeep as exc:
        return Rejected(raw, "too-deep", f"{exc}; the limit is {MAX_DEPTH} levels")
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError) as exc:
        return Rejected(
            raw, "unstorable", f"the store cannot process this record: {type(exc).__name__}: {exc}"
        )


def _incoming(
    raw: RawMessage, doc: Any, text: str, kind: DocumentKind, claimed_id: str, future_skew: timedelta
) -> Incoming:
    sha, header_ok = _verified_hash(doc, text, raw.headers.get("cverag-sha256"))
    limit = ceiling()
    claimed_updated = fields.timestamp(date_updated(doc))
    updated, updated_clamped = bounded(claimed_updated, limit, future_skew)
    claimed_observed = observed_at(raw, updated)
    observed, observed_clamped = bounded(claimed_observed, limit, future_skew)
    normalised = normalise(doc, kind, claimed_id)
    if updated_clamped:
        normalised.date_updated = updated
    clamped = [
        t for t, c in ((claimed_updated, updated_clamped), (claimed_observed, observed_clamped)) if c and t
    ]
    return Incoming(
        raw=raw,
        cve_id=claimed_id,
        sha256=sha,
        kind=kind,
        text=text,
        normalised=normalised,
        date_updated=updated,
        observed_at=observed or limit,
        hash_header_ok=header_ok,
        clamped_from=max(clamped) if clamped else None,
    )
