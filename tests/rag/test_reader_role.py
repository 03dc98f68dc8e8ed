"""The API needs only the store's read-only role: ``<schema>_reader`` (migration 009).

A login user that is granted nothing but the reader role serves every endpoint; the same
user can write nothing and create nothing in the schema, and a table the migrator creates
later (as the index does) is readable by it at once.  Migrating again changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import conninfo, sql

from tests.rag.conftest import Corpus
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def reader_dsn(corpus: Corpus) -> Iterator[str]:
    user, password = f"api_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    admin = corpus.target.dsn
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(user), sql.Literal(password), sql.Identifier(f"{corpus.target.schema}_reader")
            )
        )
    yield conninfo.make_conninfo(admin, user=user, password=password)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


def test_the_reader_role_is_nologin_and_migrating_again_keeps_it(corpus: Corpus) -> None:
    assert migrate(corpus.target) == []
    with psycopg.connect(corpus.target.dsn) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s",
            [f"{corpus.target.schema}_reader"],
        ).fetchone()
    assert row == (False, False, False)


def test_the_api_serves_every_endpoint_as_the_reader(corpus: Corpus, reader_dsn: str) -> None:
    from fastapi.testclient import TestClient

    settings = corpus.settings(pg_dsn=reader_dsn)
    assert settings.index.store.dsn == reader_dsn
    cve = next(iter(sorted(corpus.records)))
    app = create_app(settings, RagService(settings, embedder=corpus.embedder))
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"store": "ok", "index": "ok"}}
        assert client.post("/v1/search", json={"query": "buffer overflow"}).json()["results"]
        assert client.post("/v1/ask", json={"question": f"What is {cve}?"}).status_code == 200
        assert client.get(f"/v1/cves/{cve}").status_code == 200
        assert client.get(f"/v1/cves/{cve}/history").status_code == 200


def test_the_reader_can_write_nothing(corpus: Corpus, reader_dsn: str) -> None:
    schema = sql.Identifier(corpus.target.schema)
    attempts: list[Any] = [
        sql.SQL("DELETE FROM {}.cves").format(schema),
        sql.SQL("UPDATE {}.cve_versions SET state = 'x'").format(schema),
        sql.SQL("CREATE TABLE {}.planted (x int)").format(schema),
        sql.SQL("TRUNCATE {}.cve_embeddings").format(schema),
    ]
    with psycopg.connect(reader_dsn, autocommit=True) as conn:
        for statement in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_tables_created_later_are_readable_by_the_reader(corpus: Corpus, reader_dsn: str) -> None:
    later = StoreTarget(corpus.target.dsn, corpus.target.schema)
    with psycopg.connect(later.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.later (x int)").format(sql.Identifier(later.schema)))
    try:
        with psycopg.connect(reader_dsn) as conn:
            assert conn.execute(
                sql.SQL("SELECT count(*) FROM {}.later").format(sql.Identifier(later.schema))
            ).fetchone() == (0,)
    finally:
        with psycopg.connect(later.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}.later").format(sql.Identifier(later.schema)))
