"""pgvector backend: one table per index beside the CVE store, searched through an HNSW index.

Keeping vectors in the same PostgreSQL as the versioned store means no extra service by
default, transactional deletes, and joins back to the records.  The table is
``<schema>.<table>(id text primary key, embedding vector(d), metadata jsonb, updated_at)``;
names are configurable and always quoted through ``sql.Identifier``.  The HNSW operator
class follows the metric (``vector_cosine_ops``, ``vector_ip_ops``, ``vector_l2_ops``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from workloads.index.backends import Filter, IndexShapeMismatch, Item, Match, Metric, check_metric, filters

_OPCLASS: dict[Metric, str] = {
    "cosine": "vector_cosine_ops",
    "dotproduct": "vector_ip_ops",
    "euclidean": "vector_l2_ops",
}
# pgvector operators are distances (lower is closer); these turn them into Pinecone's scores.
_SCORE: dict[Metric, str] = {
    "cosine": "1 - (embedding <=> {q})",
    "dotproduct": "-(embedding <#> {q})",
    "euclidean": "(embedding <-> {q}) ^ 2",
}
_ORDER: dict[Metric, str] = {"cosine": "<=>", "dotproduct": "<#>", "euclidean": "<->"}


@dataclass(frozen=True)
class PgVectorConfig:
    dsn: str
    schema: str = "cverag"
    table: str = "cve_embeddings"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    ef_search: int = 100
    batch_size: int = 500


def vector_literal(values: Sequence[float]) -> str:
    """pgvector's text input form; ``repr`` keeps every float32 digit."""
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


class PgVectorBackend:
    def __init__(self, config: PgVectorConfig) -> None:
        self.config = config
        self._table = sql.Identifier(config.schema, config.table)
        self._metric: Metric | None = None
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.config.dsn, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def ensure(self, dimension: int, metric: Metric = "cosine") -> None:
        metric = check_metric(metric)
        conn = self._connection()
        with conn.transaction():
            # Two index Jobs starting together must not both try to create the table.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.config.schema}.{self.config.table}",)
            )
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.config.schema)))
            existing = self._shape(conn)
            if existing is None:
                self._create(conn, dimension, metric)
            elif existing != (dimension, metric):
                raise IndexShapeMismatch(
                    f"{self.config.schema}.{self.config.table} holds {existing[0]}-d vectors for {existing[1]}, "
                    f"configured {dimension}-d for {metric}: drop the index to rebuild it"
                )
        self._metric = metric

    def _shape(self, conn: psycopg.Connection[Any]) -> tuple[int, Metric] | None:
        row = conn.execute(
            "SELECT a.atttypmod, obj_description(c.oid, 'pg_class') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding'"
            " WHERE n.nspname = %s AND c.relname = %s",
            (self.config.schema, self.config.table),
        ).fetchone()
        if row is None:
            return None
        comment = json.loads(row[1] or "{}")
        return int(row[0]), check_metric(comment.get("metric", "cosine"))

    def _create(self, conn: psycopg.Connection[Any], dimension: int, metric: Metric) -> None:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {t} (id text PRIMARY KEY, embedding vector({d}) NOT NULL,"
                " metadata jsonb NOT NULL DEFAULT '{{}}', updated_at timestamptz NOT NULL DEFAULT now())"
            ).format(t=self._table, d=sql.Literal(dimension))
        )
        # The metric travels with the table so a later ensure() can compare shapes.
        comment = json.dumps({"metric": metric, "dimension": dimension})
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(self._table, sql.Literal(comment)))
        conn.execute(
            sql.SQL(
                "CREATE INDEX {i} ON {t} USING hnsw (embedding {ops}) WITH (m = {m}, ef_construction = {ef})"
            ).format(
                i=sql.Identifier(f"{self.config.table}_hnsw"),
                t=self._table,
                ops=sql.SQL(_OPCLASS[metric]),
                m=sql.Literal(self.config.hnsw_m),
                ef=sql.Literal(self.config.hnsw_ef_construction),
            )
        )

    def _require_metric(self) -> Metric:
        if self._metric is None:
            shape = self._shape(self._connection())
            if shape is None:
                raise IndexShapeMismatch(
                    f"{self.config.schema}.{self.config.table} does not exist: call ensure()"
                )
            self._metric = shape[1]
        return self._metric

    def upsert(self, items: Sequence[Item]) -> int:
        statement = sql.SQL(
            "INSERT INTO {} (id, embedding, metadata) VALUES (%s, %s::vector, %s::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding,"
            " metadata = EXCLUDED.metadata, updated_at = now()"
        ).format(self._table)
        conn = self._connection()
        size = self.config.batch_size
        for start in range(0, len(items), size):
            rows = [(i, vector_literal(v), json.dumps(dict(m))) for i, v, m in items[start : start + size]]
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(statement, rows)
        return len(items)

    def delete(self, ids: Sequence[str]) -> None:
        with self._connection().transaction():
            self._connection().execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(self._table), (list(ids),)
            )

    def query(self, vector: Sequence[float], top_k: int, filter: Filter | None = None) -> list[Match]:
        metric = self._require_metric()
        q = sql.SQL("%(q)s::vector")
        where, params = filters.to_sql(filter or {}, sql.Identifier("metadata"))
        statement = sql.SQL(
            "SELECT id, {score} AS score, metadata FROM {t} WHERE {where} ORDER BY embedding {op} {q} LIMIT {k}"
        ).format(
            score=sql.SQL(_SCORE[metric]).format(q=q),
            t=self._table,
            where=where,
            op=sql.SQL(_ORDER[metric]),
            q=q,
            k=sql.Literal(int(top_k)),
        )
        conn = self._connection()
        with conn.transaction():
            conn.execute(
                sql.SQL("SET LOCAL hnsw.ef_search = {}").format(
                    sql.Literal(max(self.config.ef_search, top_k))
                )
            )
            # A filter discards candidates after the graph walk; iterative scans keep walking
            # until top_k rows pass it, in exact distance order.
            conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            rows = conn.execute(statement, {"q": vector_literal(vector), **params}).fetchall()
        return [Match(str(r[0]), float(r[1]), dict(r[2])) for r in rows]

    def count(self) -> int:
        row = self._connection().execute(sql.SQL("SELECT count(*) FROM {}").format(self._table)).fetchone()
        return int(row[0]) if row else 0

    def drop(self) -> None:
        self._connection().execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table))
        self._metric = None
