"""Every error path of the RAG API answers an RFC 9457 problem (``application/problem+json``).

Validation, authentication, rate limit, size limit, unknown ids, routes and methods, the store
dropping its connection (503), a statement cancelled at its timeout (504) and an unexpected
failure (500, its traceback only in the log) are each caused for real: a terminated backend,
a held table lock, a store schema that was never migrated.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from psycopg import sql

from tests.rag.conftest import ClientFactory, Corpus
from workloads.rag import problems
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.store.db import StoreTarget

pytestmark = [pytest.mark.postgres]
MEMBERS = {"type", "code", "title", "status", "detail", "instance"}


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response's problem body, checked for the shape every problem has (``response`` is
    the TestClient's, an httpx2 or httpx Response, whichever Starlette found)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == problems.MEDIA_TYPE
    body: dict[str, Any] = response.json()
    kind = next(k for k in problems.KINDS if k.code == code)
    assert MEMBERS <= set(body) <= MEMBERS | {"errors"}
    assert body["type"] == f"https://cverag.io/problems/{code.replace('_', '-')}" == kind.type
    assert (body["code"], body["title"], body["status"]) == (code, kind.title, status)
    assert body["instance"] == response.request.url.path
    problems.Problem.model_validate(body)
    return body


def _id(corpus: Corpus) -> str:
    return next(iter(corpus.records))


def test_validation_problems_name_each_offending_field(client: TestClient) -> None:
    body = problem(
        client.post("/v1/search", json={"query": "", "top_k": "5", "filters": {"kev": "yes", "vendorr": 1}}),
        422,
        "invalid_request",
    )
    assert {e["field"] for e in body["errors"]} == {"query", "top_k", "filters.kev", "filters.vendorr"}
    assert "top_k: Input should be a valid integer" in body["detail"]
    broken = problem(
        client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
    )
    assert broken["errors"][0]["field"] == "body" and "JSON decode error" in broken["detail"]
    limited = problem(client.post("/v1/search", json={"query": "x", "top_k": 51}), 422, "invalid_request")
    assert [e["field"] for e in limited["errors"]] == ["top_k"]


@pytest.mark.parametrize(
    "filters",
    [{"vendor": "apache\x00"}, {"product": "\x00"}],
    ids=["vendor", "product"],
)
def test_nul_characters_are_refused_not_a_500(client: TestClient, filters: dict[str, str]) -> None:
    body = problem(client.post("/v1/search", json={"query": "x", "filters": filters}), 422, "invalid_request")
    assert body["errors"][0]["message"] == "Value error, must not contain NUL characters"
    asked = problem(client.post("/v1/ask", json={"question": "nul\x00"}), 422, "invalid_request")
    assert asked["errors"][0]["field"] == "question"


def test_dates_at_the_ends_of_the_calendar_search(client: TestClient) -> None:
    for filters in ({"published_to": "0001-01-01"}, {"published_from": "9999-12-31"}):
        response = client.post("/v1/search", json={"query": "overflow", "filters": filters})
        assert response.status_code == 200 and response.json()["results"] == []


def test_unknown_ids_routes_methods_and_bodies(client: TestClient, corpus: Corpus) -> None:
    assert "CVE-YYYY-NNNN" in problem(client.get("/v1/cves/not-a-cve"), 400, "not_a_cve_id")["detail"]
    gone = problem(client.get("/v1/cves/cve-2099-9998/history"), 404, "cve_not_found")
    assert gone["detail"] == "CVE-2099-9998 is not in the store"
    problem(client.get("/v2/nothing"), 404, "not_found")
    wrong_method = client.get("/v1/search")
    problem(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "POST"
    huge = client.post(
        "/v1/search",
        content=b'{"query": "' + b"a" * 20000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert "larger than 16384 bytes" in problem(huge, 413, "request_too_large")["detail"]
    unreadable = client.post("/v1/ask", content=b"\x03\xff", headers={"content-type": "application/json"})
    problem(unreadable, 400, "bad_request")  # not UTF-8: FastAPI cannot even parse it


def test_keys_and_rate_limit(make_client: ClientFactory) -> None:
    with make_client(api_keys=frozenset({"k"}), rate_limit_per_minute=1) as client:
        missing = problem(client.post("/v1/search", json={"query": "xss"}), 401, "missing_api_key")
        assert "Authorization: Bearer" in missing["detail"]
        wrong = client.post("/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer nope"})
        assert problem(wrong, 401, "invalid_api_key")["detail"] == "invalid API key"
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        key = {"Authorization": "Bearer k"}
        assert client.post("/v1/search", json={"query": "xss"}, headers=key).status_code == 200
        limited = client.post("/v1/search", json={"query": "xss"}, headers=key)
        assert "1 requests per minute" in problem(limited, 429, "rate_limited")["detail"]
        assert int(limited.headers["retry-after"]) >= 1


def _admin(corpus: Corpus) -> psycopg.Connection[Any]:
    conn = psycopg.connect(corpus.target.dsn, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(corpus.target.schema)))
    return conn


def _backend_pid(client: TestClient) -> int:
    service: RagService = client.app.state.service  # type: ignore[attr-defined]
    with service.pool.connection() as conn:
        return int(conn.info.backend_pid)


def test_a_dropped_store_connection_is_503_then_recovers(make_client: ClientFactory, corpus: Corpus) -> None:
    with make_client(db_pool_size=1) as client, _admin(corpus) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [_backend_pid(client)])
        down = client.get(f"/v1/cves/{_id(corpus)}")
        body = problem(down, 503, "store_unavailable")
        assert "try again" in body["detail"] and down.headers["retry-after"] == "5"
        assert client.get(f"/v1/cves/{_id(corpus)}").status_code == 200  # the pool replaced the connection


def test_a_statement_cancelled_at_its_timeout_is_504(make_client: ClientFactory, corpus: Corpus) -> None:
    with make_client(db_pool_size=1) as client, _admin(corpus) as admin:
        service: RagService = client.app.state.service  # type: ignore[attr-defined]
        with service.pool.connection() as conn:  # the one pooled session, as a store's statement_timeout
            conn.execute("SET statement_timeout = '300ms'")
        with admin.transaction():
            admin.execute("LOCK TABLE cves IN ACCESS EXCLUSIVE MODE")
            slow = client.get(f"/v1/cves/{_id(corpus)}")
        assert "statement timeout" in problem(slow, 504, "store_timeout")["detail"]


@pytest.fixture
def unmigrated(corpus: Corpus) -> Iterator[Corpus]:
    target = StoreTarget(corpus.target.dsn, f"rag_empty_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
    yield Corpus(target, {}, corpus.embedder)
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(target.schema)))


def test_an_unexpected_error_is_500_with_its_traceback_only_in_the_log(
    unmigrated: Corpus, caplog: pytest.LogCaptureFixture
) -> None:
    settings = unmigrated.settings()
    app = create_app(settings, RagService(settings, embedder=unmigrated.embedder))
    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger=problems.__name__):
        failed = client.get("/v1/cves/CVE-2021-44228")  # there is no cves table to read
        counted = client.get("/metrics").text
    body = problem(failed, 500, "internal_error")
    assert "has been logged" in body["detail"]
    assert not {"Traceback", "UndefinedTable", "relation", "psycopg"} & set(
        failed.text.replace('"', " ").split()
    )
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [type(e) for e in logged] == [psycopg.errors.UndefinedTable]
    assert 'cverag_rag_requests_total{route="/v1/cves/{cve_id}",status="500"} 1.0' in counted


def test_a_forbidden_answer_has_the_same_shape() -> None:
    """No route answers 403 today; one that did (a framework or a later route) is a problem too."""
    app = FastAPI()
    problems.install(app)

    @app.get("/closed")
    def closed() -> None:
        raise HTTPException(403, "this key may not read that")

    with TestClient(app) as client:
        assert problem(client.get("/closed"), 403, "forbidden")["detail"] == "this key may not read that"
