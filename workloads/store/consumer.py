"""The store's Kafka consumer: batches from the records topic into PostgreSQL.

Positions live in PostgreSQL, not in Kafka: ``enable.auto.commit`` is off and, on every
(re)assignment, each partition starts from the offset stored by the last committed batch
(or from the beginning when this group has none).  Kafka commits are sent afterwards
only as a courtesy to lag monitors; nothing reads them back.

Invalid messages go to the dead-letter topic with a reason code and the partition moves
on.  Transient database errors (deadlock, connection loss) retry the same batch after a
back-off instead of crashing: a consumer that dies and restarts would redo the same work.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from types import FrameType
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from workloads.store.db import StoreTarget, connect
from workloads.store.deadletter import DeadLetters
from workloads.store.messages import Incoming, RawMessage, Rejected, decode, header_map
from workloads.store.progress import Progress
from workloads.store.settings import ConsumeSettings
from workloads.store.writer import BatchOutcome, BatchWriter

RETRYABLE = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.UniqueViolation,
)
UNSTORABLE = (psycopg.DataError, psycopg.errors.CheckViolation, psycopg.errors.NotNullViolation)


def log(line: str) -> None:
    print(f"store: {line}", file=sys.stderr, flush=True)


def _raw(msg: Message) -> RawMessage:
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
        self.writer = BatchWriter(target, settings.group_id)
        self.dead_letters = DeadLetters(settings)
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
        self.stopping = True

    def run(self) -> dict[str, Any]:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.consumer.subscribe([self.settings.topic], on_assign=self._on_assign)
        last_message = time.monotonic()
        try:
            while not self.stopping:
                batch = self.consumer.consume(num_messages=self.settings.batch_size, timeout=0.5)
                if batch:
                    last_message = time.monotonic()
                    self._handle(batch)
                elif self._idle_long_enough(last_message):
                    break
                self.progress.tick()
        finally:
            self.consumer.close()
            self.writer.close()
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

    def _handle(self, batch: list[Message]) -> None:
        raws = []
        for msg in batch:
            error = msg.error()
            if error is None:
                raws.append(_raw(msg))
            elif error.code() != KafkaError._PARTITION_EOF and error.fatal():
                raise RuntimeError(f"fatal Kafka error: {error}")
        if not raws:
            return
        decoded: list[Incoming | Rejected] = [decode(raw) for raw in raws]
        outcome = self._apply(decoded)
        mismatches = sum(1 for d in decoded if isinstance(d, Incoming) and not d.hash_header_ok)
        self.progress.totals.add(len(raws), sum(len(r.value or b"") for r in raws), outcome, mismatches)
        self._courtesy_commit(raws)

    def _apply(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        try:
            return self._apply_retrying(decoded)
        except UNSTORABLE:
            return self._isolate(decoded)

    def _apply_retrying(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        delay = 0.5
        while True:
            try:
                return self.writer.apply(decoded, self.dead_letters.send)
            except RETRYABLE as exc:
                log(f"retrying batch after {type(exc).__name__}: {exc}")
            except psycopg.OperationalError as exc:
                log(f"database unavailable ({exc}); reconnecting")
                self.writer.close()
                time.sleep(delay)
                self.writer = _reconnect(self.writer)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _isolate(self, decoded: list[Incoming | Rejected]) -> BatchOutcome:
        """PostgreSQL refused something in the batch: apply one message at a time and
        dead-letter the record(s) it refuses, so a poison record cannot block its partition."""
        total = BatchOutcome()
        for item in decoded:
            try:
                outcome = self._apply_retrying([item])
            except UNSTORABLE as exc:
                log(f"dead-lettering {item.raw.topic}/{item.raw.partition}/{item.raw.offset}: {exc}")
                reason = Rejected(item.raw, "invalid-json", f"PostgreSQL cannot store this record: {exc}")
                outcome = self._apply_retrying([reason])
            total.merge(outcome)
        return total

    def _courtesy_commit(self, raws: list[RawMessage]) -> None:
        ends: dict[tuple[str, int], int] = {}
        for raw in raws:
            ends[(raw.topic, raw.partition)] = max(ends.get((raw.topic, raw.partition), 0), raw.offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
        with contextlib.suppress(KafkaException):  # advisory only: PostgreSQL holds the real positions
            self.consumer.commit(offsets=offsets, asynchronous=True)


def _reconnect(old: BatchWriter) -> BatchWriter:
    while True:
        try:
            return BatchWriter(old.target, old.group_id)
        except psycopg.OperationalError:
            time.sleep(2.0)
