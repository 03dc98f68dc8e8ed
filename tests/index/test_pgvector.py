"""pgvector specifics on the real PostgreSQL: quoted names, the HNSW index and its options."""

from __future__ import annotations

import threading
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


def test_concurrent_ensure_creates_the_table_once(postgres: Any) -> None:
    config = PgVectorConfig(dsn=postgres.dsn, schema="cverag_test", table="emb_concurrent")
    backends = [PgVectorBackend(config) for _ in range(4)]
    backends[0].drop()
    errors: list[BaseException] = []

    def ensure(backend: PgVectorBackend) -> None:
        try:
            backend.ensure(8, "cosine")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert backends[1].count() == 0
    finally:
        backends[0].drop()
