"""Versioned, idempotent schema migrations (``migrations/NNN_name.sql``).

Each file runs once, in number order, and is recorded in ``schema_migrations`` with a
checksum.  All pending files apply in one transaction (PostgreSQL DDL is transactional),
so a failure leaves the schema as it was.  Running ``migrate`` again applies only what is
new, concurrent runs (two Jobs starting at once) serialise on an advisory lock, and a
recorded migration whose file changed afterwards is an error rather than a silent drift:
released migrations are immutable, changes go into a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from psycopg import sql

from workloads.store.db import StoreTarget, connect, lock_name

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    body: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The database's recorded migrations disagree with the files shipped."""


def available() -> list[Migration]:
    folder = resources.files("workloads.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if match := _FILE.match(entry.name):
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.number)


def migrate(target: StoreTarget) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations applied now."""
    applied_now: list[str] = []
    with connect(target) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_name(target, "migrate")])
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        recorded = {row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")}
        for migration in available():
            if migration.number in recorded:
                if recorded[migration.number] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.number:03d}_{migration.name} changed after it was applied "
                        f"to schema {target.schema}; add a new migration instead"
                    )
                continue
            conn.execute(migration.body.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                [migration.number, migration.name, migration.checksum],
            )
            applied_now.append(f"{migration.number:03d}_{migration.name}")
    return applied_now


def schema_version(target: StoreTarget) -> int:
    """Highest applied migration number (0 for an empty schema)."""
    with connect(target) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
