"""Connections to the store's PostgreSQL: schema selection and session settings in one place.

Every connection puts the store's schema first on ``search_path`` (quoted with
``sql.Identifier``, never interpolated), so SQL elsewhere uses unqualified names and one
database can host several stores.  Sessions run in UTC so timestamps without a zone and
``date`` casts mean the same thing on every server.  Connections notice a vanished server
within ~30 s (TCP keep-alives and ``tcp_user_timeout``) rather than the kernel's two hours,
so a consumer waiting on one still stops within its grace period; a DSN's own values win.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

DEFAULT_SCHEMA = "cverag"
_LIVENESS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


@dataclass(frozen=True)
class StoreTarget:
    """Where a store lives: a libpq DSN ('' = the standard PG* variables) and a schema.

    Programs get theirs from their settings (:class:`workloads.store.settings.PostgresSettings`)."""

    dsn: str = ""
    schema: str = DEFAULT_SCHEMA


def connect(target: StoreTarget, *, autocommit: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    name = os.environ.get("PGAPPNAME", "cverag-store")  # libpq's variable; tells sessions apart
    given = conninfo_to_dict(target.dsn)
    liveness = {k: v for k, v in _LIVENESS.items() if k not in given}
    if "PGCONNECT_TIMEOUT" in os.environ:
        liveness.pop("connect_timeout", None)
    conn = psycopg.connect(target.dsn, autocommit=True, application_name=name, **liveness)
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(target.schema)))
    conn.execute("SET TIME ZONE 'UTC'")
    conn.autocommit = autocommit
    return conn


def lock_name(target: StoreTarget, purpose: str) -> str:
    """Name of an advisory lock scoped to this store's schema; SQL hashes it to a key with
    ``pg_advisory_xact_lock(hashtextextended(%s, 0))``."""
    return f"cverag:{target.schema}:{purpose}"
