"""Incremental sync of a vector index with the store.

One run: read the committed high-water mark of ``cve_versions.seq``; select the CVEs with a
version after the index's cursor (at most that mark); for each, build its document from the
current ``cves`` row and compare its hash with the ledger.  Unchanged documents are skipped,
changed or new ones are embedded and upserted (chunks a shorter text no longer has are
deleted), REJECTED CVEs are deleted from the index.  Work is done in batches; the ledger is
written after each batch, the cursor only when the run got through everything it selected.

So a crash or a ``limit`` costs nothing but a re-read: the next run selects the same CVEs
and the hashes skip what is done.  Selected CVEs are processed known-exploited first, then
newest first, so a partial index (the demo's, or a long first build still running) covers
the records people ask about most.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg import sql

from workloads.index.backends import Metric, VectorBackend
from workloads.index.documents import ROW_COLUMNS, CveDocument, CveRow, build, chunk_ids
from workloads.index.embedding import Embedder
from workloads.index.ledger import Ledger
from workloads.store.db import StoreTarget, connect

_SELECTED = "SELECT cve_id FROM cve_versions WHERE seq > %s AND seq <= %s"


@dataclass
class SyncReport:
    index: str
    cursor_from: int = 0
    cursor_to: int = 0
    selected: int = 0
    processed: int = 0
    embedded: int = 0
    vectors: int = 0
    unchanged: int = 0
    deleted: int = 0
    complete: bool = False
    started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def as_json(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if k != "started"}
        return {**fields, "seconds": round(self.seconds, 3)}


class IndexSync:
    """Keeps ``backend`` in step with the store at ``target``; the ledger names the index."""

    def __init__(
        self,
        target: StoreTarget,
        index_name: str,
        embedder: Embedder,
        backend: VectorBackend,
        batch_size: int = 512,
        metric: Metric = "cosine",
    ) -> None:
        self.target = target
        self.metric = metric
        self.embedder = embedder
        self.backend = backend
        self.batch_size = batch_size
        self.ledger = Ledger(target, index_name)

    def close(self) -> None:
        self.ledger.close()

    def prepare(self) -> None:
        self.ledger.ensure()
        self.backend.ensure(self.embedder.dimension, self.metric)

    def run_once(
        self,
        limit: int | None = None,
        progress: Callable[[SyncReport], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> SyncReport:
        """One pass; ``limit`` stops it after the batch in which that many documents were
        embedded (the cursor then stays, and the next run carries on where this one ended)."""
        self.prepare()
        report = SyncReport(self.ledger.index_name, cursor_from=self.ledger.cursor())
        high = self.ledger.committed_seq()
        report.cursor_to = report.cursor_from
        with connect(self.target, autocommit=True) as conn:
            ids = self._selected(conn, report.cursor_from, high)
            report.selected = len(ids)
            for start in range(0, len(ids), self.batch_size):
                if (limit is not None and report.embedded >= limit) or (stop is not None and stop()):
                    break
                chunk = ids[start : start + self.batch_size]
                self._apply(self._rows(conn, chunk), report)
                report.processed += len(chunk)
                if progress:
                    progress(report)
            report.complete = report.processed == len(ids)
        if report.complete:
            self.ledger.set_cursor(high, self.embedder.model)
            report.cursor_to = high
        return report

    @staticmethod
    def _selected(conn: Any, after: int, upto: int) -> list[str]:
        """CVEs with a version in ``(after, upto]``, known-exploited first, then newest first.

        Only ids are read here and rows are fetched per batch, so no transaction stays open
        for the length of a long embedding run."""
        rows = conn.execute(
            "SELECT cve_id FROM cves WHERE cve_id IN (" + _SELECTED + ")"
            " ORDER BY (kev_date_added IS NOT NULL) DESC, date_published DESC NULLS LAST, cve_id",
            [after, upto],
        ).fetchall()
        return [str(r[0]) for r in rows]

    @staticmethod
    def _rows(conn: Any, ids: list[str]) -> list[CveRow]:
        query = sql.SQL("SELECT {cols} FROM cves WHERE cve_id = ANY(%s)").format(cols=sql.SQL(ROW_COLUMNS))
        by_id = {row[0]: CveRow(*row) for row in conn.execute(query, [ids]).fetchall()}
        return [by_id[i] for i in ids if i in by_id]

    def _apply(self, rows: list[CveRow], report: SyncReport) -> None:
        known = self.ledger.known([r.cve_id for r in rows])
        rejected = [r.cve_id for r in rows if r.state == "REJECTED"]
        if rejected:
            self.backend.delete([i for c in rejected for i in chunk_ids(c, max(known.get(c, ("", 1))[1], 1))])
            self.ledger.forget(rejected)
            report.deleted += sum(1 for c in rejected if c in known)
        documents = [build(r, self.embedder.model) for r in rows if r.state != "REJECTED"]
        changed = [d for d in documents if known.get(d.cve_id, ("", 0))[0] != d.content_hash]
        if changed:
            self._write(changed, known)
        report.embedded += len(changed)
        report.vectors += sum(len(d.texts) for d in changed)
        report.unchanged += len(documents) - len(changed)

    def _write(self, changed: list[CveDocument], known: dict[str, tuple[str, int]]) -> None:
        vectors = iter(self.embedder.embed([t for d in changed for t in d.texts]))
        items = [
            (item_id, next(vectors), {**d.metadata, "chunk": n})
            for d in changed
            for n, item_id in enumerate(d.chunk_ids)
        ]
        self.backend.upsert(items)
        surplus = [
            item_id
            for d in changed
            for item_id in chunk_ids(d.cve_id, known.get(d.cve_id, ("", 0))[1])[len(d.texts) :]
        ]
        if surplus:
            self.backend.delete(surplus)
        self.ledger.record([(d.cve_id, d.content_hash, len(d.texts)) for d in changed])
