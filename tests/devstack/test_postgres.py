"""The local PostgreSQL does what the store and index workloads will ask of it.

Each test works in a throwaway schema (dropped afterwards) so reruns against a reused server, or
against an external one given by ``CVERAG_POSTGRES_DSN``, never see each other's tables.
"""

from __future__ import annotations

import math
import operator
import os
import random
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from devstack import postgres as pg_infra

pytestmark = pytest.mark.postgres

DIMENSIONS = 384
VECTORS = 3_000


@pytest.fixture
def conn(postgres: Any) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """An autocommit connection whose ``search_path`` starts with a fresh schema."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        connection.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
        try:
            yield connection
        finally:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _explain(conn: psycopg.Connection[tuple[Any, ...]], query: str, params: tuple[Any, ...]) -> str:
    rows = conn.execute(sql.SQL("EXPLAIN ") + sql.SQL(query), params).fetchall()
    return "\n".join(row[0] for row in rows)


def _literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(map(operator.mul, vector, vector)))
    return [x / norm for x in vector]


def _brute_force_nearest(probe: list[float], units: list[list[float]]) -> tuple[int, float]:
    """The exact nearest neighbour by cosine distance, and that distance, the slow honest way."""
    unit_probe = _unit(probe)
    similarities = [sum(map(operator.mul, unit_probe, unit)) for unit in units]
    best = max(range(len(units)), key=similarities.__getitem__)
    return best, 1.0 - similarities[best]


def test_hnsw_index_finds_the_exact_nearest_neighbour(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    rng = random.Random(384)
    # Rounded to what the literal carries so Python's brute force sees the stored values.
    vectors = [[round(rng.random() - 0.5, 6) for _ in range(DIMENSIONS)] for _ in range(VECTORS)]
    units = [_unit(vector) for vector in vectors]
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(sql.SQL("CREATE TABLE chunks (id int PRIMARY KEY, embedding vector({}))").format(DIMENSIONS))
    with conn.cursor().copy("COPY chunks (id, embedding) FROM STDIN") as copy:
        for row_id, vector in enumerate(vectors):
            copy.write_row((row_id, _literal(vector)))
    conn.execute("CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops)")
    conn.execute("ANALYZE chunks")
    conn.execute("SET hnsw.ef_search = 100")
    # At 3,000 rows the planner prefers an exact scan; the point here is what the index returns.
    conn.execute("SET enable_seqscan = off")
    query = "SELECT id, embedding <=> %s::vector FROM chunks ORDER BY embedding <=> %s::vector LIMIT 5"

    for source in rng.sample(range(VECTORS), 8):
        # A moved copy of a stored vector (about 0.9 cosine similarity to it, ~0 to the rest).
        probe = [round(x + rng.gauss(0, 0.15), 6) for x in vectors[source]]
        nearest, distance = _brute_force_nearest(probe, units)
        assert nearest == source
        found = conn.execute(query, (_literal(probe), _literal(probe))).fetchall()
        assert found[0] == (nearest, pytest.approx(distance, abs=1e-5))

    plan = _explain(conn, query, (_literal(vectors[0]), _literal(vectors[0])))
    assert "Index Scan using chunks_embedding_hnsw" in plan, plan


DOCUMENTS = {
    "heap": "Heap buffer overflows in quuxparser allow remote code execution via a crafted header.",
    "dos": "quuxparser crashes on malformed input, causing a denial of service.",
    "both": "Remote code execution in quuxparser; an earlier fix only prevented denial of service.",
    "scattered": "quuxparser allows code execution by remote attackers who send long headers.",
    "other": "Heap overflow in libfoo allows remote code execution.",
}


def test_full_text_search_uses_gin_and_honours_web_search_syntax(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> None:
    conn.execute(
        "CREATE TABLE descriptions (key text PRIMARY KEY, body text NOT NULL,"
        " tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED)"
    )
    rng = random.Random(7)
    filler = ["kernel", "driver", "memory", "leak", "overflow", "remote", "attacker", "privilege", "service"]
    with conn.cursor().copy("COPY descriptions (key, body) FROM STDIN") as copy:
        for n in range(2_000):
            copy.write_row((f"filler-{n}", " ".join(rng.choices(filler, k=12))))
        for key, body in DOCUMENTS.items():
            copy.write_row((key, body))
    conn.execute("CREATE INDEX descriptions_tsv_gin ON descriptions USING gin (tsv)")
    conn.execute("ANALYZE descriptions")
    query = "SELECT key FROM descriptions WHERE tsv @@ websearch_to_tsquery('english', %s) ORDER BY key"

    def keys(search: str) -> list[str]:
        return [row[0] for row in conn.execute(query, (search,)).fetchall()]

    # A quoted phrase must be adjacent words; "-" excludes; stemming matches "overflows".
    assert keys('quuxparser "remote code execution" -denial') == ["heap"]
    assert keys('quuxparser overflow or "denial of service"') == ["both", "dos", "heap"]
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = _explain(conn, query, ("quuxparser overflow",))
    assert "descriptions_tsv_gin" in plan, plan


PRODUCTS = [
    "openssl",
    "openssh",
    "libssh",
    "nginx",
    "apache http server",
    "postgresql",
    "grafana",
    "müller-tools",
]


def test_trigram_similarity_finds_misspelled_products(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone()
    if available is None:
        pytest.skip("pg_trgm is not installed in this PostgreSQL (external server without contrib?)")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    conn.execute("CREATE TABLE products (name text PRIMARY KEY)")
    rng = random.Random(11)
    names = {"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=9)) for _ in range(2_000)} | set(PRODUCTS)
    with conn.cursor().copy("COPY products (name) FROM STDIN") as copy:
        for name in names:
            copy.write_row((name,))
    conn.execute("CREATE INDEX products_name_trgm ON products USING gin (name gin_trgm_ops)")
    conn.execute("ANALYZE products")
    query = "SELECT name FROM products WHERE name %% %s ORDER BY similarity(name, %s) DESC, name LIMIT 3"

    assert conn.execute(query, ("opnessl", "opnessl")).fetchall()[0] == ("openssl",)
    assert conn.execute(query, ("postgressql", "postgressql")).fetchall()[0] == ("postgresql",)
    assert conn.execute(query, ("müler-tools", "müler-tools")).fetchall()[0] == ("müller-tools",)
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = _explain(conn, query, ("opnessl", "opnessl"))
    assert "products_name_trgm" in plan, plan


def test_committed_rows_survive_a_crash_and_restart(postgres: Any) -> None:
    if pg_infra.DSN_ENV in os.environ:
        pytest.skip(f"{pg_infra.DSN_ENV} points at an external server, which these tests never kill")
    table = sql.Identifier(f"crash_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE TABLE {} (n int)").format(table))
        connection.execute(sql.SQL("INSERT INTO {} SELECT generate_series(1, 1000)").format(table))
    pg_infra.kill()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.dsn, connect_timeout=3).close()
    restarted = pg_infra.restart()
    assert restarted.dsn == postgres.dsn
    with psycopg.connect(restarted.dsn, autocommit=True) as connection:
        assert connection.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone() == (1000,)
        connection.execute(sql.SQL("DROP TABLE {}").format(table))
