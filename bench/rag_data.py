"""Benchmark stores for the RAG benchmarks, derived from a store ``make demo`` filled.

``scaled_store(k)`` copies the source store's ``cves`` rows (and KEV/EPSS tables) into
``bench_rag_x<k>``, ``k`` times, the copies renumbered ``CVE-Y-N -> CVE-Y-(j*10,000,000+N)``
(the convention of bench/ingest), so k=1 is the 62,928 shared records and k=5 about the live
feed's 300,000.  Versions are not copied: ``/v1/search`` reads only ``cves``.

Vectors: every source record with a real MiniLM vector keeps it; the others get a *derived*
vector, a real one of another record plus Gaussian noise (sigma 0.04 per dimension, cosine
about 0.8 to its origin), normalised.  Embedding 300,000 documents on two cores would take
hours; for latency the index needs the real dimensionality, size and clustered shape, not
the real neighbours.  The HNSW index is built after loading, as a bulk load should be.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate
from workloads.store.rows import CURRENT_COLUMNS

SIGMA = 0.04
_META = (
    "jsonb_strip_nulls(jsonb_build_object('cve_id', cve_id, 'chunk', 0, 'kev', kev_date_added IS NOT NULL,"
    " 'year', extract(year FROM date_published)::int, 'severity', base_severity, 'cvss', base_score::float8,"
    " 'vendors', to_jsonb(vendors), 'products', to_jsonb(products), 'cwe', to_jsonb(cwe_ids)))"
)


def _count(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    exists = conn.execute("SELECT to_regclass(%s)", [f"{schema}.{table}"]).fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))).fetchone()
    return int(row[0]) if row else 0


def scaled_store(dsn: str, source: str, copies: int, log: Any = print) -> StoreTarget:
    target = StoreTarget(dsn, f"bench_rag_x{copies}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        expected = _count(conn, source, "cves") * copies
        if expected and _count(conn, target.schema, "cve_embeddings") == expected:
            log(f"reusing {target.schema} ({expected:,} records with vectors)")
            return target
    migrate(target)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _copy_rows(conn, source, target.schema, copies)
        log(f"{target.schema}: {_count(conn, target.schema, 'cves'):,} records copied")
    _load_vectors(dsn, source, target.schema, log)
    return target


def _copy_rows(conn: psycopg.Connection[Any], source: str, schema: str, copies: int) -> None:
    cols = [c for c in CURRENT_COLUMNS if c != "cve_id"]
    names = sql.SQL(", ").join(map(sql.Identifier, cols))
    for j in range(copies):
        new_id = sql.SQL(
            "CASE WHEN {j} = 0 THEN cve_id ELSE 'CVE-' || split_part(cve_id, '-', 2) || '-'"
            " || ({j}::bigint * 10000000 + split_part(cve_id, '-', 3)::bigint) END"
        ).format(j=sql.Literal(j))
        conn.execute(
            sql.SQL(
                "INSERT INTO {t} (cve_id, {cols}) SELECT {nid}, {cols} FROM {s} ON CONFLICT DO NOTHING"
            ).format(
                t=sql.Identifier(schema, "cves"), cols=names, nid=new_id, s=sql.Identifier(source, "cves")
            )
        )
    for table in ("kev_catalog", "epss_scores"):
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM {} ON CONFLICT DO NOTHING").format(
                sql.Identifier(schema, table), sql.Identifier(source, table)
            )
        )


def _derived(cve_id: str, real: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    seed = int.from_bytes(hashlib.sha256(cve_id.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    vector = real[seed % len(real)] + rng.normal(0.0, SIGMA, real.shape[1]).astype(np.float32)
    result: np.ndarray[Any, Any] = vector / np.linalg.norm(vector)
    return result


def _load_vectors(dsn: str, source: str, schema: str, log: Any) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            sql.SQL("SELECT id, embedding::text FROM {} WHERE id NOT LIKE '%%#%%'").format(
                sql.Identifier(source, "cve_embeddings")
            )
        ).fetchall()
    real_by_id = {r[0]: np.array(r[1].strip("[]").split(","), dtype=np.float32) for r in rows}
    real = np.stack(list(real_by_id.values()))
    backend = PgVectorBackend(PgVectorConfig(dsn=dsn, schema=schema))
    backend.drop()
    backend.ensure(real.shape[1])
    backend.close()
    table = sql.Identifier(schema, "cve_embeddings")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, "cve_embeddings_hnsw")))
        items = conn.execute(
            sql.SQL("SELECT cve_id, {m}::text FROM {c}").format(
                m=sql.SQL(_META), c=sql.Identifier(schema, "cves")
            )
        ).fetchall()
        with (
            conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} (id, embedding, metadata) FROM STDIN").format(table)) as copy,
        ):
            for cve_id, meta in items:
                vector = real_by_id.get(cve_id)
                vector = vector if vector is not None else _derived(cve_id, real)
                copy.write_row((cve_id, "[" + ",".join(f"{x:.5f}" for x in vector) + "]", meta))
        log(
            f"{schema}: {len(items):,} vectors loaded ({len(real_by_id):,} real, the rest derived); building HNSW"
        )
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute(
            sql.SQL(
                "CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
            ).format(sql.Identifier("cve_embeddings_hnsw"), table)
        )
