"""How much of the store the vector index holds, so every answer can say so.

The API serves while the index fills (``make demo`` starts answering after the first few
thousand documents; a new CveIndex starts empty), and until it is complete the vector half of
hybrid search only knows part of the store: a client deserves to know that its results came
from 1,536 of 62,783 records' vectors, not guess.  The figures come from the index's own ledger
in the store (:mod:`workloads.index.ledger`), so they hold for pgvector and Pinecone alike.

Counting 300k rows costs tens of milliseconds, so the figure is read at most every
:data:`TTL` seconds and shared by every request (it lags the index sync by that much).  A store
whose index never ran has no ledger tables: zero indexed, not an error.
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field

from workloads.common.cache import Refreshed

TTL = 15.0
log = logging.getLogger(__name__)

_LEDGER_READY = (
    "SELECT to_regclass('index_documents') IS NOT NULL AND to_regclass('index_cursors') IS NOT NULL"
)
_RECORDS = "SELECT count(*) FROM cves WHERE state <> 'REJECTED'"
_COUNTS = (
    "SELECT (SELECT count(*) FROM index_documents WHERE index_name = %(name)s),"
    f" ({_RECORDS}),"
    " coalesce((SELECT seq FROM index_cursors WHERE index_name = %(name)s), 0)"
    " >= coalesce((SELECT max(seq) FROM cve_versions), 0)"
)


class IndexCoverage(BaseModel):
    """The vector index's share of the store, as of at most a few seconds ago."""

    indexed: int = Field(description="CVEs whose current document is in the vector index")
    records: int = Field(description="published (not REJECTED) CVEs in the store")
    complete: bool = Field(
        description="the index has caught up with every version the store holds; while false, "
        "results that match only by meaning may be missing"
    )


def read_coverage(pool: ConnectionPool[Any], index_name: str) -> IndexCoverage:
    with pool.connection() as conn:
        ready = conn.execute(_LEDGER_READY).fetchone()
        if not (ready and ready[0]):
            row = conn.execute(_RECORDS).fetchone()
            records = int(row[0]) if row else 0
            return IndexCoverage(indexed=0, records=records, complete=records == 0)
        counts = conn.execute(_COUNTS, {"name": index_name}).fetchone()
    assert counts is not None  # a SELECT of scalars always returns its row
    return IndexCoverage(indexed=int(counts[0]), records=int(counts[1]), complete=bool(counts[2]))


def as_json(coverage: IndexCoverage | None) -> dict[str, Any] | None:
    """The coverage as the JSON body members carry it (``null`` when unknown)."""
    return coverage.model_dump() if coverage else None


class CoverageCache:
    """:func:`read_coverage` every :data:`TTL` seconds; ``None`` while the store cannot say
    (a search still answers: coverage is information, not a dependency)."""

    def __init__(self, pool: ConnectionPool[Any], index_name: str, ttl: float = TTL) -> None:
        self._cached = Refreshed(lambda: read_coverage(pool, index_name), ttl)

    def get(self) -> IndexCoverage | None:
        try:
            return self._cached.get()
        except Exception as exc:  # reported as unknown; the request it accompanies goes on
            log.warning("index coverage unknown: %s", type(exc).__name__)
            return None
