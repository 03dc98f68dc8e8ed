"""Applying decoded batches on writer threads, with retries and poison-record isolation.

The consumer decodes batch N+1 (Python CPU) while writer threads wait for PostgreSQL to
apply batch N (database CPU), so the two overlap; psycopg releases the GIL while it waits.
A batch is split by partition over ``writers`` lanes, each with its own connection (one
PostgreSQL backend each, so the database's share of the work can use several cores) and
its own transaction holding exactly its partitions' positions: a partition's data and
position still commit together.  At most one batch is in flight: the consumer collects
every lane's outcome before handing over the next, so no partition is ever in two lanes.

Transient database errors (deadlock, serialisation, a unique race with another consumer,
connection loss) retry the same batch after a back-off instead of crashing, since a
restarted consumer would only redo the same work.  A batch PostgreSQL refuses for its
*content* is applied one message at a time, and the record it refuses is dead-lettered,
so a poison record can never block its partition.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from workloads.store.db import StoreTarget
from workloads.store.deadletter import DeadLetters
from workloads.store.messages import Incoming, Rejected
from workloads.store.writer import BatchOutcome, BatchWriter

RETRYABLE = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.UniqueViolation,
)
UNSTORABLE = (psycopg.DataError, psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation)


def log(line: str) -> None:
    print(f"store: {line}", file=sys.stderr, flush=True)


class Lane:
    """One writer thread with its own connection."""

    def __init__(self, target: StoreTarget, group_id: str, dead_letters: DeadLetters) -> None:
        self.target = target
        self.group_id = group_id
        self.dead_letters = dead_letters
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
        except UNSTORABLE:
            return self._isolate(decoded)

    def _retrying(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        delay = 0.5
        while True:
            try:
                return self.writer.apply(decoded, self.dead_letters.send)
            except RETRYABLE as exc:
                log(f"retrying batch after {type(exc).__name__}: {exc}")
            except psycopg.OperationalError as exc:
                log(f"database unavailable ({exc}); reconnecting")
                self.writer.close()
                self.writer = self._reconnect()
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _reconnect(self) -> BatchWriter:
        while True:
            try:
                return BatchWriter(self.target, self.group_id)
            except psycopg.OperationalError:
                time.sleep(2.0)

    def _isolate(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        total = BatchOutcome()
        for item in decoded:
            try:
                outcome = self._retrying([item])
            except UNSTORABLE as exc:
                log(f"dead-lettering {item.raw.topic}/{item.raw.partition}/{item.raw.offset}: {exc}")
                refused = Rejected(item.raw, "invalid-json", f"PostgreSQL cannot store this record: {exc}")
                outcome = self._retrying([refused])
            total.merge(outcome)
        return total


class Applier:
    """Splits each batch by partition over the lanes, balancing message counts."""

    def __init__(
        self, target: StoreTarget, group_id: str, dead_letters: DeadLetters, writers: int = 1
    ) -> None:
        self.lanes = [Lane(target, group_id, dead_letters) for _ in range(max(1, writers))]

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

    def close(self) -> None:
        for lane in self.lanes:
            lane.close()
