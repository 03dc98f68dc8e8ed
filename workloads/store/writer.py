"""Applying one consumed batch to PostgreSQL in ONE transaction.

The transaction appends the new versions, closes the versions they supersede, upserts
the current rows and stores the consumed Kafka positions.  Because positions and data
commit together, a crash anywhere leaves either all of a batch or none of it, and the
consumer resumes from the stored positions: nothing is lost, nothing applied twice.

A Kafka position (topic, partition, offset) is applied at most once per store, whichever
consumer group reads it: messages below the highest stored position of their partition
are skipped.  So a fresh group replaying the topic, or a zombie consumer still holding a
partition after a rebalance, changes nothing.  Partitions are serialised by advisory
locks, and snapshots take the same lock space exclusively (see :mod:`retention`).

Bulk paths: versions go in with COPY; current rows of CVEs new to the store are COPYed
straight into ``cves``, those of known CVEs into a temporary stage table merged with one
INSERT ... ON CONFLICT (bench/ingest measures the whole path; row-at-a-time INSERTs are
its baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from workloads.common.records import DocumentKind
from workloads.store import assessments_writer
from workloads.store.db import StoreTarget, connect, lock_name
from workloads.store.messages import Incoming, Rejected
from workloads.store.rows import CURRENT_COLUMNS, VERSION_COLUMNS, current_row, version_row
from workloads.store.versioning import Current, Plan, needs_previous_doc, plan

Position = tuple[str, int]


@dataclass(slots=True)
class BatchOutcome:
    versions: int = 0
    unchanged: int = 0
    replayed: int = 0
    out_of_order: int = 0
    dead_lettered: int = 0

    def merge(self, other: BatchOutcome) -> None:
        self.versions += other.versions
        self.unchanged += other.unchanged
        self.replayed += other.replayed
        self.out_of_order += other.out_of_order
        self.dead_lettered += other.dead_lettered


def _names(columns: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


_COPY_VERSIONS = sql.SQL("COPY cve_versions ({}) FROM STDIN").format(_names(VERSION_COLUMNS))
_COPY_STAGE = sql.SQL("COPY cves_stage ({}) FROM STDIN").format(_names(CURRENT_COLUMNS))
_COPY_CURRENT = sql.SQL("COPY cves ({}) FROM STDIN").format(_names(CURRENT_COLUMNS))
_MERGE_CURRENT = sql.SQL(
    "INSERT INTO cves ({cols}) SELECT {cols} FROM cves_stage ON CONFLICT (cve_id) DO UPDATE SET {sets}, "
    "ingested_at = now()"
).format(
    cols=_names(CURRENT_COLUMNS),
    sets=sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in CURRENT_COLUMNS if c != "cve_id"
    ),
)


class BatchWriter:
    """Owns one connection; :meth:`apply` is the whole per-batch transaction."""

    def __init__(self, target: StoreTarget, group_id: str) -> None:
        self.target = target
        self.group_id = group_id
        self.conn = connect(target)
        # Safe here, and only here: a batch's positions commit in the same transaction as its
        # versions, so a commit lost in a server crash is lost whole and re-read from Kafka.
        self.conn.execute("SET synchronous_commit = off")
        self.conn.commit()
        with self.conn.transaction():
            self.conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS cves_stage (LIKE cves INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )

    def close(self) -> None:
        self.conn.close()

    def apply(
        self,
        messages: list[Incoming | Rejected],
        dead_letter: Callable[[list[Rejected]], None],
    ) -> BatchOutcome:
        """Apply ``messages`` (in consumption order); ``dead_letter`` must deliver the rejected
        ones durably before it returns, since the transaction commits right after it."""
        outcome = BatchOutcome()
        ends: dict[Position, int] = {}
        for msg in messages:
            key = (msg.raw.topic, msg.raw.partition)
            ends[key] = max(ends.get(key, 0), msg.raw.offset + 1)
        with self.conn.transaction():
            applied = self._lock_positions(sorted(ends))
            fresh = [m for m in messages if m.raw.offset >= applied.get((m.raw.topic, m.raw.partition), 0)]
            outcome.replayed = len(messages) - len(fresh)
            incoming = [m for m in fresh if isinstance(m, Incoming)]
            if incoming:
                current = self._current(incoming)
                incoming, enrichment = assessments_writer.split(
                    incoming, current
                )  # NVD items of CVE 5 records
                result = plan(incoming, current)
                self._write(result)
                assessments_writer.write(self.conn.cursor(), result, enrichment, set(current))
                outcome.versions, outcome.unchanged = len(result.versions), result.unchanged + len(enrichment)
                outcome.out_of_order = sum(v.out_of_order for v in result.versions)
            # after the writes: a batch the database refuses is retried in parts, and letters
            # sent before the refusal would be sent again with every part
            rejected = [m for m in fresh if isinstance(m, Rejected)]
            if rejected:
                dead_letter(rejected)
                outcome.dead_lettered = len(rejected)
            self._store_positions(ends)
        return outcome

    def _lock_positions(self, positions: list[Position]) -> dict[Position, int]:
        cur = self.conn.cursor()
        cur.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))", [lock_name(self.target, "seq")]
        )
        for topic, partition in positions:
            name = lock_name(self.target, f"partition:{topic}:{partition}")
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])
        rows = cur.execute(
            "SELECT o.topic, o.partition, max(o.next_offset) FROM consumer_offsets o"
            " JOIN unnest(%s::text[], %s::int[]) AS p(topic, partition) USING (topic, partition)"
            " GROUP BY o.topic, o.partition",
            [[t for t, _ in positions], [p for _, p in positions]],
        ).fetchall()
        return {(str(t), int(p)): int(o) for t, p, o in rows}

    def _current(self, incoming: list[Incoming]) -> dict[str, Current]:
        ids = sorted({inc.cve_id for inc in incoming})
        rows = self.conn.execute(
            "SELECT cve_id, version, sha256, kind, date_updated, valid_from FROM cves"
            " WHERE cve_id = ANY(%s) ORDER BY cve_id FOR UPDATE",
            [ids],
        ).fetchall()
        current = {r[0]: Current(r[1], r[2], DocumentKind(r[3]), r[4], r[5]) for r in rows}
        wanted = sorted(needs_previous_doc(incoming, current))
        if wanted:
            docs = self.conn.execute(
                "SELECT v.cve_id, v.record::text FROM cves c JOIN cve_versions v USING (cve_id, version)"
                " WHERE c.cve_id = ANY(%s)",
                [wanted],
            ).fetchall()
            for cve_id, text in docs:
                current[cve_id].text = text
        return current

    def _write(self, result: Plan) -> None:
        cur = self.conn.cursor()
        if result.closed:
            closed = sorted(result.closed.items())
            cur.execute(
                "UPDATE cve_versions v SET valid_to = u.valid_to"
                " FROM unnest(%s::text[], %s::int[], %s::timestamptz[]) AS u(cve_id, version, valid_to)"
                " WHERE v.cve_id = u.cve_id AND v.version = u.version",
                [[c for c, _ in closed], [v for _, (v, _) in closed], [t for _, (_, t) in closed]],
            )
        _copy(cur, _COPY_VERSIONS, (version_row(v) for v in result.versions))
        # CVEs that had no current row go straight in; the others are merged.  (A row
        # inserted meanwhile by another consumer raises a unique violation: the batch retries.)
        first_seen = [v for cve, v in result.current.items() if cve not in result.closed]
        changed = [v for cve, v in result.current.items() if cve in result.closed]
        if first_seen:
            _copy(cur, _COPY_CURRENT, (current_row(v) for v in first_seen))
        if changed:
            _copy(cur, _COPY_STAGE, (current_row(v) for v in changed))
            cur.execute(_MERGE_CURRENT)

    def _store_positions(self, ends: dict[Position, int]) -> None:
        self.conn.cursor().executemany(
            "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (group_id, topic, partition) DO UPDATE"
            " SET next_offset = greatest(consumer_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()",
            [(self.group_id, t, p, o) for (t, p), o in sorted(ends.items())],
        )


def _copy(cur: psycopg.Cursor[Any], statement: sql.Composed, rows: Iterable[tuple[Any, ...]]) -> None:
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
