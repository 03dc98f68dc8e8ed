"""What each index holds, kept beside the store: a cursor and one content hash per CVE.

Two small tables in the store's schema, created by the index itself (``CREATE ... IF NOT
EXISTS``) rather than by a store migration, so the index workload can be added to, or
removed from, an existing store without touching the store's migration history:

* ``index_cursors``: per index, the highest ``cve_versions.seq`` whose CVEs are all in the
  index.  Only a run that got through everything it selected moves it.
* ``index_documents``: per index and CVE, the hash of the last document written and its
  number of chunks (to delete chunks a shorter text no longer has).  The hash is what makes
  a re-run or a rebuilt cursor cheap: an unchanged document is never embedded again.

The index is named by backend and location (``pgvector:schema.table``,
``pinecone:index/namespace``), so several indexes can share one store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from workloads.store.db import StoreTarget, connect, lock_name

_DDL = (
    "CREATE TABLE IF NOT EXISTS index_cursors (index_name text PRIMARY KEY, seq bigint NOT NULL,"
    " model text, updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS index_documents (index_name text NOT NULL, cve_id text NOT NULL,"
    " content_hash text NOT NULL, chunks integer NOT NULL, embedded_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (index_name, cve_id))",
)


class Ledger:
    """One connection to the store; every method commits on its own."""

    def __init__(self, target: StoreTarget, index_name: str) -> None:
        self.target = target
        self.index_name = index_name
        self.conn: psycopg.Connection[tuple[Any, ...]] = connect(target, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def ensure(self) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [self._lock("ddl")])
            for statement in _DDL:
                self.conn.execute(statement)

    def _lock(self, purpose: str) -> str:
        return lock_name(self.target, f"index:{purpose}")

    def cursor(self) -> int:
        row = self.conn.execute(
            "SELECT seq FROM index_cursors WHERE index_name = %s", [self.index_name]
        ).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, seq: int, model: str) -> None:
        self.conn.execute(
            "INSERT INTO index_cursors (index_name, seq, model) VALUES (%s, %s, %s)"
            " ON CONFLICT (index_name) DO UPDATE SET seq = EXCLUDED.seq, model = EXCLUDED.model,"
            " updated_at = now()",
            [self.index_name, seq, model],
        )

    def committed_seq(self) -> int:
        """The highest version ``seq`` below which every version is committed.

        Store batches hold the store's ``seq`` advisory lock shared while they write; taking
        it exclusively for an instant waits for batches in flight, so every number drawn so
        far belongs to a committed (or rolled back) transaction and no version below the
        returned value can still appear.  Same mechanism as the store's snapshots."""
        with self.conn.transaction():
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(self.target, "seq")]
            )
            row = self.conn.execute(
                "SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('cve_versions', 'seq')::regclass), 0)"
            ).fetchone()
        return int(row[0]) if row else 0

    def known(self, cve_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``cve_id -> (content_hash, chunks)`` of the documents this index holds."""
        rows = self.conn.execute(
            "SELECT cve_id, content_hash, chunks FROM index_documents WHERE index_name = %s AND cve_id = ANY(%s)",
            [self.index_name, list(cve_ids)],
        ).fetchall()
        return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}

    def record(self, documents: Sequence[tuple[str, str, int]]) -> None:
        """Remember ``(cve_id, content_hash, chunks)`` as written."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO index_documents (index_name, cve_id, content_hash, chunks) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (index_name, cve_id) DO UPDATE SET content_hash = EXCLUDED.content_hash,"
                " chunks = EXCLUDED.chunks, embedded_at = now()",
                [(self.index_name, *doc) for doc in documents],
            )

    def forget(self, cve_ids: Sequence[str]) -> None:
        self.conn.execute(
            "DELETE FROM index_documents WHERE index_name = %s AND cve_id = ANY(%s)",
            [self.index_name, list(cve_ids)],
        )

    def reset(self) -> None:
        """Forget the cursor and every hash (the next run rebuilds the whole index)."""
        with self.conn.transaction():
            self.conn.execute("DELETE FROM index_cursors WHERE index_name = %s", [self.index_name])
            self.conn.execute("DELETE FROM index_documents WHERE index_name = %s", [self.index_name])

    def size(self) -> int:
        row = self.conn.execute(
            "SELECT count(*) FROM index_documents WHERE index_name = %s", [self.index_name]
        ).fetchone()
        return int(row[0]) if row else 0
