"""The store's side of the end-to-end test: catching the consumers mid-load, and what a load leaves.

:class:`WriteBlock` takes the store's two tables in ``EXCLUSIVE`` mode (reads go on, writes
wait) once the migration Job has made them: every consumer that has records from Kafka then
sits inside its write transaction, and :meth:`WriteBlock.writers` lists those waiting.  That
is the moment to kill one: a later commit than the one it was in the middle of must not lose
or double anything.  :func:`snapshot` is what a load leaves (every CVE's current version and
hash, every version's hash), :func:`uninterrupted` the same records written straight through
the store's own write path into a scratch schema, in release order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from devstack.corpus import write
from devstack.scratch import drop_schema
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

TABLES = ("cves", "cve_versions")
Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


class WriteBlock:
    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.schema = dsn, schema
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def take(self) -> None:
        self.conn = psycopg.connect(self.dsn)  # a transaction is open until release()
        tables = sql.SQL(", ").join(sql.Identifier(self.schema, t) for t in TABLES)
        self.conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(tables))

    def writers(self) -> list[str]:
        """The statements of other sessions waiting to write (or lock for writing) the store's tables.

        Asked on a connection of its own: inside the lock's transaction pg_stat_activity would
        answer from the snapshot its first read took."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                """SELECT query FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND query ~* '\\m(insert|update|copy|delete)\\M' AND query ~* '\\mcve(s|_versions)\\M'"""
            ).fetchall()
        return [str(r[0]) for r in rows]

    def count(self) -> int:
        assert self.conn is not None
        row = self.conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.schema, "cves"))
        )
        return int(row.fetchone()[0])  # type: ignore[index]

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None


def snapshot(dsn: str, schema: str) -> Snapshot:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        current = conn.execute("SELECT cve_id, version, sha256, state FROM cves ORDER BY cve_id").fetchall()
        versions = conn.execute(
            "SELECT cve_id, version, sha256 FROM cve_versions ORDER BY cve_id, version"
        ).fetchall()
    return current, versions


def uninterrupted(dsn: str, releases: Iterable[list[dict[str, Any]]]) -> Snapshot:
    """What the same releases leave when written in one go each, with no consumer in between."""
    target = StoreTarget(dsn, "e2e_reference")
    migrate(target)
    try:
        for docs in releases:
            write(target, docs)
        return snapshot(dsn, target.schema)
    finally:
        drop_schema(dsn, target.schema)


def schema_exists(dsn: str, schema: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [schema]).fetchone()
    return bool(row and row[0])


def embedded(dsn: str, schema: str, table: str) -> set[str] | None:
    """The CVE ids with vectors in the index table (chunk ids ``CVE-…#n`` count once), or None
    when the table does not exist."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.{table}"]).fetchone()
        if not (found and found[0]):
            return None
        query = sql.SQL("SELECT DISTINCT split_part(id, '#', 1) FROM {}").format(
            sql.Identifier(schema, table)
        )
        return {str(row[0]) for row in conn.execute(query)}
