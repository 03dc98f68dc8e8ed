"""Store facts the operator reports (schema version, counts, committed positions), asked of
``workloads.store`` itself, and dropping a deleted store's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from workloads.store.db import StoreTarget
from workloads.store.migrate import schema_version
from workloads.store.query import StoreReader


@dataclass(frozen=True)
class StoreFacts:
    schema_version: int
    records: int | None = None
    versions: int | None = None
    last_ingest: datetime | None = None
    positions: dict[int, int] = field(default_factory=dict)  # partition -> next offset consumed


def _target(conninfo: str, schema: str) -> StoreTarget:
    return StoreTarget(make_conninfo(conninfo, connect_timeout=10), schema)


def store_facts(
    conninfo: str, schema: str, with_counts: bool, consumer: tuple[str, str] | None = None
) -> StoreFacts:
    """Schema version, and once its tables exist the store's counts and, for ``consumer``
    (group, topic), the positions its consumers committed with their versions."""
    target = _target(conninfo, schema)
    if not with_counts:
        return StoreFacts(schema_version(target))
    with StoreReader(target) as reader:
        stats = reader.stats()
        positions = reader.positions(*consumer) if consumer else {}
    return StoreFacts(stats.schema_version, stats.cves, stats.versions, stats.last_ingest_at, positions)


def drop_schema(conninfo: str, schema: str) -> bool:
    """``DROP SCHEMA … CASCADE`` for a store deleted with ``deletionPolicy: Delete``."""
    with psycopg.connect(make_conninfo(conninfo, connect_timeout=10), autocommit=True) as conn:
        row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [schema]).fetchone()
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return bool(row and row[0])
