"""Initial load of an empty store: the query indexes of ``cves`` are built after it, once.

A store is loaded from nothing once (300,000 records from a full feed) and then takes deltas
(~1,500 changes a day).  Maintaining the full-text, trigram and array GIN indexes row by row
was a large share of the database's CPU on the first load (bench/ingest), while building
them once over the loaded table costs a fraction of it.  So a consumer whose first batch
finds ``cves`` empty:

1. in one transaction records the definition (``pg_get_indexdef``) of every index on
   ``cves`` that is neither unique nor the primary key in ``deferred_indexes`` and drops
   them.  Unique indexes (one row per CVE, one current version) are never touched: they
   are what keeps the load exactly-once;
2. loads through the normal write path (same transactions, same positions);
3. when it has read every assigned partition to its end, builds the recorded indexes, each
   in the transaction that deletes its row, two at a time, then ``ANALYZE``s the table.

Crash safety comes from the table: a consumer killed between 1 and 3 leaves the rows, and
the next consumer of the store (any replica, any group) continues the load and builds them
when it catches up; several consumers finishing at once share the work (``SKIP LOCKED``).
Queries stay correct throughout (without the indexes they scan), only slower until the load
ends.  A store with rows never enters the mode: deltas use the indexes as always.
"""

from __future__ import annotations

import sys
import threading
import time

import psycopg
from psycopg import sql

from workloads.store.db import StoreTarget, connect, lock_name

_DEFERRABLE = (
    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    " WHERE i.indrelid = 'cves'::regclass AND NOT i.indisunique AND NOT i.indisprimary ORDER BY c.relname"
)
BUILDERS = 2


def log(line: str) -> None:
    print(f"store: {line}", file=sys.stderr, flush=True)


def begin(target: StoreTarget) -> bool:
    """Enter (or continue) an initial load; ``False`` when the store already holds rows or
    the indexes could not be locked promptly (a long query on the table: load normally)."""
    try:
        with connect(target) as conn:
            conn.execute("SET LOCAL lock_timeout = '5s'")
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(target, "bulk")])
            if _pending(conn):
                log("continuing an initial load: the query indexes are built when it has caught up")
                return True
            if _row(conn, "SELECT EXISTS (SELECT 1 FROM cves)"):
                return False
            deferred = conn.execute(_DEFERRABLE).fetchall()
            for name, definition in deferred:
                conn.execute(
                    "INSERT INTO deferred_indexes (name, definition) VALUES (%s, %s)", [name, definition]
                )
                conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    except psycopg.errors.LockNotAvailable:
        log("the store is busy; loading with its indexes in place")
        return False
    if deferred:
        log(f"initial load: {len(deferred)} query indexes of cves are built once it has caught up")
    return bool(deferred)


def pending(target: StoreTarget) -> bool:
    with connect(target) as conn:
        return _pending(conn)


def finish(target: StoreTarget) -> int:
    """Build every deferred index (two connections, one transaction each); returns how many
    this process built.  Raises what a build raised, leaving its row for the next try."""
    started = time.monotonic()
    built: list[str] = []
    errors: list[BaseException] = []

    def builder() -> None:
        try:
            with connect(target) as conn:
                # the two builders are the parallelism (and their CPU shows under this
                # program's application_name, as parallel workers' might not)
                conn.execute("SET max_parallel_maintenance_workers = 0")
                conn.commit()
                while name := _build_next(conn):
                    built.append(name)
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=builder, name=f"index-builder-{n}") for n in range(BUILDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    with connect(target, autocommit=True) as conn:
        conn.execute("ANALYZE cves")
    log(f"initial load done: built {len(built)} indexes in {time.monotonic() - started:.1f}s")
    return len(built)


def _build_next(conn: psycopg.Connection[tuple[object, ...]]) -> str | None:
    """Build one deferred index and delete its row, in one transaction; ``None`` when none is left."""
    with conn.transaction():
        row = conn.execute(
            "SELECT name, definition FROM deferred_indexes ORDER BY name FOR UPDATE SKIP LOCKED LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        name, definition = str(row[0]), str(row[1])
        # the server's own rendering of an index we dropped; IF NOT EXISTS in case a
        # migration has meanwhile created it again
        statement = definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
        conn.execute(statement.encode())
        conn.execute("DELETE FROM deferred_indexes WHERE name = %s", [name])
    return name


def _pending(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    return _row(conn, "SELECT EXISTS (SELECT 1 FROM deferred_indexes)")


def _row(conn: psycopg.Connection[tuple[object, ...]], query: str) -> bool:
    found = conn.execute(query.encode()).fetchone()
    return bool(found and found[0])
