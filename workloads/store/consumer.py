"""The store's Kafka consumer: batches from the records topic into PostgreSQL.

Positions live in PostgreSQL, not in Kafka: ``enable.auto.commit`` is off and, on every
(re)assignment, each partition starts from the offset stored by the last committed batch
(or from the beginning when this group has none).  Kafka commits are sent afterwards
only as a courtesy to lag monitors; nothing reads them back.

Invalid messages go to the dead-letter topic with a reason code and the partition moves
on.  Decoding runs here while the previous batch is applied on the writer thread
(:mod:`applier`), which also owns retries and poison-record isolation.

SIGTERM (or SIGINT) stops it within the pod's grace period, committing what it has: no new
batch is read, the batch in flight commits if the database takes it, and retries against a
database that is down end at once (that batch is read again after the restart).  Should
anything still hang (a broker that never answers ``close``), a watchdog exits the process
``stop_timeout`` seconds after the signal; positions live in PostgreSQL, so that loses nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from workloads.store import bulkload
from workloads.store import metrics as store_metrics
from workloads.store.applier import Applier, Stopping, log
from workloads.store.db import StoreTarget, connect
from workloads.store.deadletter import DeadLetters
from workloads.store.messages import Incoming, RawMessage, Rejected, decode, header_map
from workloads.store.progress import Progress
from workloads.store.settings import ConsumeSettings
from workloads.store.writer import BatchOutcome

COLLECT_EVERY = 50


@contextlib.contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Run without Python's automatic cycle collector (collecting every COLLECT_EVERY batches).

    A batch keeps thousands of parsed records (millions of small objects) alive for a
    moment; the collector kept re-scanning them and took most of the decoding CPU (about
    250 µs instead of 30 µs per record in profiles).  Parsed JSON holds no reference
    cycles and is freed by reference counting as soon as its batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Pending:
    """A batch handed to the writer thread, kept until its outcome is collected."""

    raws: list[RawMessage]
    decoded: list[Incoming | Rejected]
    outcomes: list[Future[BatchOutcome]]
    read_at: float = field(default_factory=time.perf_counter)


def raw_message(msg: Message) -> RawMessage:
    _kind, stamp = msg.timestamp()
    key, value = msg.key(), msg.value()
    return RawMessage(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        key=key.encode() if isinstance(key, str) else key,
        value=value.encode() if isinstance(value, str) else value,
        headers=header_map(msg.headers()),
        timestamp_ms=stamp or None,
    )


class StoreConsumer:
    def __init__(self, settings: ConsumeSettings, target: StoreTarget) -> None:
        self.settings = settings
        self.target = target
        self.progress = Progress(settings.progress_every)
        self.stopping = False
        self.assigned_at: float | None = None
        self.starts: dict[tuple[str, int], int] = {}
        self.applier = Applier(target, settings.group_id, DeadLetters(settings), settings.writers)
        self.bulk_checked, self.bulk, self.indexes_built = not settings.bulk_load, False, 0
        self.consumer = Consumer(settings.consumer_config())

    def _stored_offsets(self, partitions: list[TopicPartition]) -> dict[tuple[str, int], int]:
        with connect(self.target) as conn:
            rows = conn.execute(
                "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = %s AND topic = ANY(%s)",
                [self.settings.group_id, sorted({p.topic for p in partitions})],
            ).fetchall()
        return {(str(t), int(p)): int(o) for t, p, o in rows}

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self._stored_offsets(partitions)
        for tp in partitions:
            tp.offset = stored.get((tp.topic, tp.partition), OFFSET_BEGINNING)
            self.starts[(tp.topic, tp.partition)] = tp.offset
        consumer.assign(partitions)
        self.assigned_at = time.monotonic()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            log(f"{signal.Signals(signum).name}: stopping (committing what is in hand)")
            watchdog = threading.Timer(self.settings.stop_timeout, _give_up, [self.settings.stop_timeout])
            watchdog.daemon = True
            watchdog.start()
        self.stopping = True
        self.applier.stop()

    def run(self) -> dict[str, Any]:
        with cycle_collection_paused():
            return self._run()

    def _run(self) -> dict[str, Any]:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.consumer.subscribe([self.settings.topic], on_assign=self._on_assign)
        last_message = time.monotonic()
        pending: Pending | None = None
        try:
            while not self.stopping:
                batch = self.consumer.consume(num_messages=self.settings.batch_size, timeout=0.5)
                if batch:
                    last_message = time.monotonic()
                    if not self.bulk_checked:  # the first batch: an empty store is loaded in bulk
                        self.bulk_checked, self.bulk = True, bulkload.begin(self.target)
                    raws = self._prepare(batch)
                    decoded = self._decode(raws)  # while the writer thread applies the previous batch
                    self._collect(pending)
                    pending = Pending(raws, decoded, self.applier.submit(decoded)) if raws else None
                else:
                    self._collect(pending)
                    pending = None
                    if self.bulk and self._caught_up():
                        self._finish_bulk_load()
                    if self._idle_long_enough(last_message):
                        break
                self.progress.tick()
            self._collect(pending)
        finally:
            self.consumer.close()
            self.applier.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.progress.tick(force=True)
        return self.progress.summary(**self.settings.describe())

    def _idle_long_enough(self, last_message: float) -> bool:
        """``--until-idle``: nothing arrived for that long *and* every assigned partition is
        read up to its end (a slow broker is not "caught up")."""
        idle = self.settings.until_idle
        if idle is None or self.assigned_at is None:
            return False
        if time.monotonic() - max(last_message, self.assigned_at) < idle:
            return False
        return self._caught_up()

    def _caught_up(self) -> bool:
        try:
            assigned = self.consumer.assignment()
            for tp in self.consumer.position(assigned):
                low, high = self.consumer.get_watermark_offsets(tp, timeout=10.0, cached=False)
                start = self.starts.get((tp.topic or "", tp.partition), low)
                at = tp.offset if tp.offset >= 0 else (start if start >= 0 else low)
                if at < high:
                    return False
        except KafkaException as exc:
            log(f"cannot check lag yet: {exc}")
            return False
        return bool(assigned)

    def _finish_bulk_load(self) -> None:
        """Build the indexes the initial load deferred (a failure: again when next idle)."""
        try:
            self.indexes_built += bulkload.finish(self.target)
            self.bulk = False
        except psycopg.OperationalError as exc:
            log(f"could not build the deferred indexes yet: {exc}")

    def _prepare(self, batch: list[Message]) -> list[RawMessage]:
        raws = []
        for msg in batch:
            error = msg.error()
            if error is None:
                raws.append(raw_message(msg))
            elif error.code() != KafkaError._PARTITION_EOF and error.fatal():
                raise RuntimeError(f"fatal Kafka error: {error}")
        return raws

    def _decode(self, raws: list[RawMessage]) -> list[Incoming | Rejected]:
        started = time.perf_counter()
        skew = self.settings.future_skew
        decoded: list[Incoming | Rejected] = [decode(raw, skew) for raw in raws]
        self.progress.totals.decode_seconds += time.perf_counter() - started
        return decoded

    def _collect(self, pending: Pending | None) -> None:
        """Wait for the batch on the writer thread; re-raises what it raised."""
        if pending is None:
            return
        started = time.perf_counter()
        outcome = BatchOutcome()
        abandoned = False
        for part in pending.outcomes:
            try:
                outcome.merge(part.result())
            except Stopping:
                abandoned = True  # that lane's partitions were not applied; the others were
        self.progress.totals.wait_seconds += time.perf_counter() - started
        if abandoned:
            log("stopped with a batch the database did not take; it is read again after the restart")
            return
        mismatches = sum(1 for d in pending.decoded if isinstance(d, Incoming) and not d.hash_header_ok)
        size = sum(len(r.value or b"") for r in pending.raws)
        self.progress.totals.add(len(pending.raws), size, outcome, mismatches)
        store_metrics.batch_done(time.perf_counter() - pending.read_at)
        if self.progress.totals.batches % COLLECT_EVERY == 0:
            gc.collect()
        self._courtesy_commit(pending.raws)

    def _courtesy_commit(self, raws: list[RawMessage]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for raw in raws:
            ends[(raw.topic, raw.partition)] = max(ends.get((raw.topic, raw.partition), 0), raw.offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
        with contextlib.suppress(KafkaException):  # advisory only: PostgreSQL holds the real positions
            self.consumer.commit(offsets=offsets, asynchronous=True)


def _give_up(timeout: float) -> None:
    log(f"still not stopped {timeout:.0f}s after the signal; exiting (positions are in PostgreSQL)")
    os._exit(1)
