"""Applying decoded batches on writer threads: retries, poison-record isolation, stopping.

The consumer decodes batch N+1 (Python CPU) while writer threads wait for PostgreSQL to
apply batch N (database CPU), so the two overlap; psycopg releases the GIL while it waits.
A batch is split by partition over ``writers`` lanes, each with its own connection (one
PostgreSQL backend each, so the database's share of the work can use several cores) and
its own transaction holding exactly its partitions' positions: a partition's data and
position still commit together.  At most one batch is in flight: the consumer collects
every lane's outcome before handing over the next, so no partition is ever in two lanes.

Whose fault an error is decides what happens (:mod:`workloads.store.sqlstate`):

* the **database's** (connection lost, deadlock, serialisation, disk full, shutdown, a unique
  race with another consumer): the same batch is retried after a back-off, reconnecting
  when the connection is gone, since a restarted consumer would only redo the same work;
* the **record's** (a value PostgreSQL cannot hold, a description too long to index, or the
  store's own processing failing on it): the batch is split in halves, recursively, and
  each half applied on its own, so the records before and after the poison commit and the
  poison itself ends alone in the dead-letter topic with the SQLSTATE in its detail.  The
  halves keep consumption order, so positions still only move forward.  The happy path is
  untouched: one transaction per batch, as before;
* anything else (a missing table, a privilege, a bug) is raised: the process exits and its
  restart resumes from the stored positions.

Retries wait on the ``stop`` event, so SIGTERM ends them at once: the batch in hand is then
abandoned (:class:`Stopping`), not half-applied, and is read again after the restart.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from workloads.store.db import StoreTarget
from workloads.store.deadletter import DeadLetters
from workloads.store.messages import Incoming, Rejected
from workloads.store.sqlstate import Fault, describe, fault_of, reason_of
from workloads.store.writer import BatchOutcome, BatchWriter

# What the store's own record processing (versioning, diffs) raises on a record it cannot handle.
PROCESSING_ERRORS = (ValueError, TypeError, LookupError, ArithmeticError, RecursionError)
MAX_DELAY = 30.0


def log(line: str) -> None:
    print(f"store: {line}", file=sys.stderr, flush=True)


class Stopping(Exception):
    """The consumer is stopping while this batch waited for the database; it was not applied."""


class _Refused(Exception):
    """The batch holds a record that is its own fault (reason and detail for its dead letter)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Lane:
    """One writer thread with its own connection."""

    def __init__(
        self, target: StoreTarget, group_id: str, dead_letters: DeadLetters, stop: threading.Event
    ) -> None:
        self.target = target
        self.group_id = group_id
        self.dead_letters = dead_letters
        self.stop = stop
        self.writer = BatchWriter(target, group_id)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")

    def submit(self, decoded: list[Incoming | Rejected]) -> Future[BatchOutcome]:
        return self.pool.submit(self.apply, decoded)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.writer.close()

    def apply(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        try:
            return self._retrying(decoded)
        except _Refused as refused:
            return self._split(decoded, refused)

    def _split(self, items: list[Incoming | Rejected], refused: _Refused) -> BatchOutcome:
        if len(items) == 1:
            (item,) = items
            if isinstance(item, Rejected):
                raise RuntimeError(f"a dead letter itself was refused: {refused.detail}") from refused
            raw = item.raw
            log(f"dead-lettering {raw.topic}/{raw.partition}/{raw.offset} ({item.cve_id}): {refused.detail}")
            return self._retrying([Rejected(raw, refused.reason, refused.detail)])
        total = BatchOutcome()
        middle = len(items) // 2
        for half in (items[:middle], items[middle:]):
            try:
                total.merge(self._retrying(half))
            except _Refused as again:
                total.merge(self._split(half, again))
        return total

    def _retrying(self, items: list[Incoming | Rejected]) -> BatchOutcome:
        delay = 0.5
        while True:
            try:
                return self.writer.apply(items, self.dead_letters.send)
            except psycopg.Error as exc:
                fault = fault_of(exc)
                if fault is Fault.RECORD:
                    raise _Refused(reason_of(exc), f"PostgreSQL refused it: {describe(exc)}") from exc
                if fault is Fault.FATAL:
                    raise
                log(f"database unavailable ({describe(exc)}); retrying in {delay:.1f}s")
            except PROCESSING_ERRORS as exc:
                raise _Refused(
                    "unstorable", f"the store cannot process it: {type(exc).__name__}: {exc}"
                ) from exc
            self._pause(delay)
            delay = min(delay * 2, MAX_DELAY)
            if self.writer.conn.closed or self.writer.conn.broken:
                self.writer.close()
                self.writer = self._reconnect()

    def _reconnect(self) -> BatchWriter:
        delay = 1.0
        while True:
            try:
                return BatchWriter(self.target, self.group_id)
            except psycopg.OperationalError as exc:
                log(f"cannot reconnect ({describe(exc)}); next try in {delay:.1f}s")
            self._pause(delay)
            delay = min(delay * 2, MAX_DELAY)

    def _pause(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopping("stopping while the database was unavailable; the batch was not applied")


class Applier:
    """Splits each batch by partition over the lanes, balancing message counts."""

    def __init__(
        self, target: StoreTarget, group_id: str, dead_letters: DeadLetters, writers: int = 1
    ) -> None:
        self.stopping = threading.Event()
        self.lanes = [Lane(target, group_id, dead_letters, self.stopping) for _ in range(max(1, writers))]

    def submit(self, decoded: list[Incoming | Rejected]) -> list[Future[BatchOutcome]]:
        by_partition: dict[tuple[str, int], list[Incoming | Rejected]] = {}
        for item in decoded:
            by_partition.setdefault((item.raw.topic, item.raw.partition), []).append(item)
        shares: list[list[Incoming | Rejected]] = [[] for _ in self.lanes]
        for items in sorted(by_partition.values(), key=len, reverse=True):
            lightest = min(range(len(shares)), key=lambda i: len(shares[i]))
            shares[lightest].extend(items)
        return [lane.submit(share) for lane, share in zip(self.lanes, shares, strict=True) if share]

    def apply(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        """Apply on the calling thread through the first lane (tests, tools)."""
        return self.lanes[0].apply(decoded)

    def stop(self) -> None:
        """End every retry now (SIGTERM); a batch that still needs one raises :class:`Stopping`."""
        self.stopping.set()

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
