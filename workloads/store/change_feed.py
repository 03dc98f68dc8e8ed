"""The store's change feed: every stored version in commit order (``seq``), read from a position.

``seq`` is drawn when a version is written, not when its batch commits, and batches of
different partitions commit concurrently (several writers), so a plain reader could see
seq 11 while seq 10 is still in flight, move its position to 11 and skip 10 for good.
Every batch holds the store's ``seq`` advisory lock *shared* (:mod:`writer`); a reader here
takes it *exclusively* only while its transaction takes its snapshot (:func:`consistent`),
as a named snapshot does (:mod:`retention`).  That waits for the batches in flight, so the
snapshot holds every version that will ever have a seq below its highest one: any later
batch draws higher numbers.  A position is therefore stable: reading on from it, now or
after a restart, yields each later version exactly once.

Filters apply to each version as it was written (its own record, normalised as at ingest),
so reading the same range again gives the same answer; KEV also counts the loaded catalog.
Reads are batched by ``seq`` (an index on ``cve_versions (seq)`` makes each batch a range
scan; without it each batch scans the table).  Exports stream through a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import IsolationLevel, sql

from workloads.common.records import DocumentKind
from workloads.store import fields
from workloads.store.db import StoreTarget, lock_name
from workloads.store.normalise import normalise
from workloads.store.search import Filters, filter_conditions, severities_at_least

_LOCK = "SELECT {}(hashtextextended(%s, 0))"
_VERSION = (
    "v.seq, v.cve_id, v.version, v.state, v.kind, v.changes, v.valid_from, v.date_updated,"
    " v.ingested_at, v.out_of_order, v.source, v.release, k.cve_id IS NOT NULL, v.record::text"
)
_FROM = " FROM cve_versions v LEFT JOIN kev_catalog k ON k.cve_id = v.cve_id"


@dataclass(frozen=True)
class ChangeFilter:
    """What a follower wants: every condition given must hold (vendor/product case-folded)."""

    vendor: str | None = None
    product: str | None = None
    min_severity: str | None = None
    kev: bool | None = None

    def __post_init__(self) -> None:
        if self.min_severity:
            severities_at_least(self.min_severity)  # an unknown severity is a ValueError now

    def admits(self, change: Change) -> bool:
        wanted = (fields.lowered(self.vendor), fields.lowered(self.product))
        if wanted[0] and wanted[0] not in change.vendors:
            return False
        if wanted[1] and wanted[1] not in change.products:
            return False
        if self.min_severity and change.severity not in severities_at_least(self.min_severity):
            return False
        return self.kev is None or self.kev == change.kev

    def as_filters(self) -> Filters:
        """The same conditions over current rows (the search filters), for the current export."""
        return Filters(vendor=self.vendor, product=self.product, min_severity=self.min_severity, kev=self.kev)


@dataclass(frozen=True)
class Change:
    """One stored version, with the fields followers filter and triage on."""

    seq: int
    cve_id: str
    version: int
    state: str
    changes: list[str]
    valid_from: datetime
    date_updated: datetime | None
    ingested_at: datetime
    out_of_order: bool
    source: str | None
    release: str | None
    title: str | None
    severity: str | None
    score: float | None
    vendors: list[str]
    products: list[str]
    kev: bool
    record: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Page:
    changes: list[Change]
    position: int  # the seq read up to: where the next page starts, filtered-out versions included
    more: bool  # versions past ``position`` existed in the snapshot


def _change(row: tuple[Any, ...], with_record: bool) -> Change:
    seq, cve_id, version, state, kind, changes, valid_from, updated, ingested, late, source, release = row[
        :12
    ]
    record = orjson.loads(row[13])
    n = normalise(record, DocumentKind(kind), cve_id)
    base = n.base
    return Change(
        seq=int(seq),
        cve_id=cve_id,
        version=int(version),
        state=state,
        changes=list(changes),
        valid_from=valid_from,
        date_updated=updated,
        ingested_at=ingested,
        out_of_order=bool(late),
        source=source,
        release=release,
        title=n.title,
        severity=base.severity if base else None,
        score=float(base.score) if base and base.score is not None else None,
        vendors=n.vendors,
        products=n.products,
        kev=bool(row[12]) or n.kev_date_added is not None,
        record=record if with_record else None,
    )


@contextmanager
def consistent(
    conn: psycopg.Connection[Any], target: StoreTarget, lock_timeout: float = 10.0
) -> Iterator[psycopg.Connection[Any]]:
    """A REPEATABLE READ transaction whose snapshot was taken while no batch was in flight.

    ``conn`` must be in autocommit mode (a pooled connection is).  Waiting longer than
    ``lock_timeout`` seconds for in-flight batches raises ``LockNotAvailable``."""
    key = lock_name(target, "seq")
    with conn.transaction():
        conn.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(1, int(lock_timeout * 1000))}ms"])
        conn.execute(sql.SQL(_LOCK).format(sql.Identifier("pg_advisory_lock")), [key])
    unlocked, previous = False, conn.isolation_level
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            # the first statement takes the transaction's snapshot, under the lock; then frees it
            conn.execute(sql.SQL(_LOCK).format(sql.Identifier("pg_advisory_unlock")), [key])
            unlocked = True
            yield conn
    finally:
        conn.isolation_level = previous
        if not unlocked and not conn.closed:
            conn.execute(sql.SQL(_LOCK).format(sql.Identifier("pg_advisory_unlock")), [key])


def head(conn: psycopg.Connection[Any]) -> int:
    """The highest seq in the snapshot: a position from which only later versions follow."""
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM cve_versions").fetchone()
    return int(row[0]) if row else 0


def page(
    conn: psycopg.Connection[Any],
    after: int,
    limit: int,
    wanted: ChangeFilter,
    *,
    scan: int = 2000,
    batch: int = 200,
) -> Page:
    """Up to ``limit`` changes after ``after`` that ``wanted`` admits, reading at most ``scan``
    versions (a sparse filter returns a short page that still moves ``position`` on)."""
    found: list[Change] = []
    position, read = after, 0
    query = sql.SQL("SELECT " + _VERSION + _FROM + " WHERE v.seq > %s ORDER BY v.seq LIMIT %s")
    while len(found) < limit and read < scan:
        size = min(batch, scan - read)
        rows = conn.execute(query, [position, size]).fetchall()
        for row in rows:
            change = _change(row, with_record=False)
            read, position = read + 1, change.seq
            if wanted.admits(change):
                found.append(change)
                if len(found) == limit:
                    break
        if len(rows) < size:
            return Page(found, position, more=_later(conn, position))
    return Page(found, position, more=_later(conn, position))


def _later(conn: psycopg.Connection[Any], position: int) -> bool:
    return (
        conn.execute("SELECT 1 FROM cve_versions WHERE seq > %s LIMIT 1", [position]).fetchone() is not None
    )


def stream_changes(
    conn: psycopg.Connection[Any], after: int, wanted: ChangeFilter, itersize: int = 500
) -> Iterator[Change]:
    """Every admitted version after ``after``, with its record, in seq order; constant memory
    (a server-side cursor: ``conn`` must be inside a transaction, e.g. :func:`consistent`)."""
    query = sql.SQL("SELECT " + _VERSION + _FROM + " WHERE v.seq > %s ORDER BY v.seq")
    with conn.cursor(name="cverag_change_export") as cur:
        cur.itersize = itersize
        cur.execute(query, [after])
        for row in cur:
            change = _change(row, with_record=True)
            if wanted.admits(change):
                yield change


@dataclass(frozen=True)
class CurrentRecord:
    cve_id: str
    version: int
    state: str
    valid_from: datetime
    record_json: bytes  # the stored jsonb's text, not parsed and re-encoded here


def stream_current(
    conn: psycopg.Connection[Any], wanted: ChangeFilter, itersize: int = 500
) -> Iterator[CurrentRecord]:
    """The current version of every CVE the filters admit, by CVE id; server-side cursor."""
    conds, params = filter_conditions(wanted.as_filters())
    query = sql.SQL(
        "SELECT c.cve_id, c.version, c.state, c.valid_from, v.record::text FROM cves c"
        " JOIN cve_versions v USING (cve_id, version) LEFT JOIN kev_catalog k ON k.cve_id = c.cve_id"
        " WHERE {where} ORDER BY c.cve_id"
    ).format(where=sql.SQL(" AND ").join(conds) if conds else sql.SQL("true"))
    with conn.cursor(name="cverag_current_export") as cur:
        cur.itersize = itersize
        cur.execute(query, params)
        for cve_id, version, state, valid_from, text in cur:
            yield CurrentRecord(cve_id, int(version), state, valid_from, text.encode())
