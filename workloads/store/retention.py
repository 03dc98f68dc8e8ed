"""Retention (``prune``) and named snapshots (``snapshot``).

A snapshot records the highest version ``seq`` committed when it was taken.  To make that
exact while consumers are writing, every batch transaction holds a *shared* advisory lock
and taking a snapshot holds it *exclusively*: the snapshot waits for in-flight batches to
commit, and any later batch draws higher sequence numbers.

Pruning removes superseded versions only (the current version of a CVE is never
removed) when they fall outside ``keep`` (the last N versions per CVE; ``None`` keeps
all) or were superseded more than ``retain_days`` ago (by ``valid_to``, source time).
Versions that some snapshot resolves to are pinned and survive, so ``get(id,
as_of=snapshot)`` keeps answering until the snapshot is deleted.  Version numbers are
never reused or renumbered after a prune.
"""

from __future__ import annotations

from psycopg import errors

from workloads.store.db import StoreTarget, connect, lock_name
from workloads.store.models import Snapshot

_PRUNE = """
WITH ranked AS (
    SELECT cve_id, version, row_number() OVER (PARTITION BY cve_id ORDER BY version DESC) AS recency
    FROM cve_versions
), pinned AS (
    SELECT DISTINCT ON (s.name, v.cve_id) v.cve_id, v.version
    FROM snapshots s JOIN cve_versions v ON v.seq <= s.seq
    ORDER BY s.name, v.cve_id, v.version DESC
)
DELETE FROM cve_versions d USING ranked r
WHERE d.cve_id = r.cve_id AND d.version = r.version
  AND d.valid_to IS NOT NULL
  AND ((%(keep)s::int IS NOT NULL AND r.recency > %(keep)s::int)
       OR (%(days)s::float8 IS NOT NULL AND d.valid_to < now() - %(days)s::float8 * interval '1 day'))
  AND NOT EXISTS (SELECT 1 FROM pinned p WHERE p.cve_id = d.cve_id AND p.version = d.version)
"""


class SnapshotExists(ValueError):
    """Snapshot names are unique; delete the old one first to move a label."""


def prune(target: StoreTarget, keep: int | None, retain_days: float | None) -> int:
    """Delete superseded versions outside the policy; returns how many were deleted."""
    if keep is not None and keep < 1:
        raise ValueError("keep must be at least 1 (the current version is always kept)")
    if keep is None and retain_days is None:
        return 0
    with connect(target) as conn:
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(target, "snapshots")]
        )
        deleted = conn.execute(_PRUNE, {"keep": keep, "days": retain_days}).rowcount
    return max(deleted, 0)


def take_snapshot(target: StoreTarget, name: str, note: str | None = None) -> Snapshot:
    with connect(target) as conn:
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(target, "snapshots")]
        )
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(target, "seq")])
        row = conn.execute(
            "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('cve_versions', 'seq')::regclass), 0)"
        ).fetchone()
        seq = int(row[0]) if row else 0
        try:
            taken = conn.execute(
                "INSERT INTO snapshots (name, seq, note) VALUES (%s, %s, %s) RETURNING taken_at",
                [name, seq, note],
            ).fetchone()
        except errors.UniqueViolation:
            raise SnapshotExists(f"snapshot {name!r} exists") from None
    assert taken is not None
    return Snapshot(name, seq, taken[0], note)


def delete_snapshot(target: StoreTarget, name: str) -> bool:
    with connect(target) as conn:
        return conn.execute("DELETE FROM snapshots WHERE name = %s", [name]).rowcount > 0


def list_snapshots(target: StoreTarget) -> list[Snapshot]:
    with connect(target) as conn:
        rows = conn.execute(
            "SELECT name, seq, taken_at, note FROM snapshots ORDER BY taken_at, name"
        ).fetchall()
    return [Snapshot(*row) for row in rows]
