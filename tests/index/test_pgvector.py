"""pgvector specifics on the real PostgreSQL: quoted names, the HNSW index and its options."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig

pytestmark = pytest.mark.postgres


def test_table_and_hnsw_index_follow_configuration(postgres: Any) -> None:
    config = PgVectorConfig(dsn=postgres.dsn, schema='Odd "schema"', table="cve; drop table x", hnsw_m=8)
    backend = PgVectorBackend(config)
    try:
        backend.ensure(3, "dotproduct")
        backend.upsert([("CVE-2024-0001", [0.1, 0.2, 0.3], {"kev": True})])
        with psycopg.connect(postgres.dsn) as conn:
            indexdef = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s AND indexdef LIKE %s",
                (config.schema, config.table, "%hnsw%"),
            ).fetchone()
            type_name = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND attname = 'embedding'",
                (config.schema, config.table),
            ).fetchone()
        assert indexdef is not None and "vector_ip_ops" in indexdef[0]
        assert "m='8'" in indexdef[0] and "ef_construction='64'" in indexdef[0]
        assert type_name == ("vector(3)",)
        assert backend.count() == 1
    finally:
        backend.drop()
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS "Odd ""schema""" CASCADE')


def test_query_before_ensure_says_what_to_do(postgres: Any) -> None:
    backend = PgVectorBackend(PgVectorConfig(dsn=postgres.dsn, schema="cverag_test", table="never_created"))
    with pytest.raises(Exception, match="call ensure"):
        backend.query([0.0, 1.0], top_k=1)
