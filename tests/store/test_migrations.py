"""Schema migrations: versioned, idempotent, per schema, and strict about edited history."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from devstack.scratch import drop_schema, unique
from tests.store.helpers import store_cli
from workloads.store import StoreTarget
from workloads.store.db import connect
from workloads.store.migrate import MigrationError, available, migrate, schema_version

pytestmark = [pytest.mark.postgres]


def test_files_are_numbered_uniquely_in_order() -> None:
    """Numbers are assigned to parallel work in advance, so gaps are allowed; repeats are not."""
    numbers = [m.number for m in available()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


def test_migrate_is_idempotent_and_recorded(postgres: Any) -> None:
    target = StoreTarget(postgres.dsn, unique("Mixed Case-schema"))
    try:
        first = store_cli(postgres.dsn, target.schema, "migrate")
        assert first["_exit"] == 0 and len(first["applied"]) == len(available())
        second = store_cli(postgres.dsn, target.schema, "migrate")
        assert second["applied"] == [] and second["schema_version"] == available()[-1].number
        with connect(target) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [target.schema],
                )
            }
        assert {
            "cves",
            "cve_versions",
            "consumer_offsets",
            "kev_catalog",
            "epss_scores",
            "snapshots",
        } <= tables
    finally:
        drop_schema(postgres.dsn, target.schema)


def test_trigram_indexes_exist_exactly_when_pg_trgm_does(postgres: Any, store: StoreTarget) -> None:
    with connect(store) as conn:
        available_ext = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).fetchone()
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", [store.schema])
        }
    has_trgm = bool(available_ext and available_ext[0])
    assert ("cves_title_trgm" in indexes) == has_trgm
    assert {"cves_search", "cves_vendors", "cves_cwe_ids", "cves_base_score"} <= indexes


def test_an_edited_applied_migration_is_refused(postgres: Any, store: StoreTarget) -> None:
    with connect(store) as conn:
        conn.execute(
            sql.SQL("UPDATE {}.schema_migrations SET checksum = 'edited' WHERE version = 1").format(
                sql.Identifier(store.schema)
            )
        )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(store)
    assert schema_version(store) == available()[-1].number
