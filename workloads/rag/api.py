"""The HTTP API (FastAPI; OpenAPI docs at ``/docs``, schema at ``/openapi.json``).

``/v1/*`` sits behind :class:`~workloads.rag.guards.Guard`; ``/``, ``/healthz``, ``/readyz``,
``/metrics`` and the docs are open so probes and the page load without a key (the page
sends the key the user types with its API calls).  Every error is an RFC 9457 problem
(:mod:`workloads.rag.problems`) whose detail says what to change, and the OpenAPI document
declares them (:mod:`workloads.rag.openapi`); metrics count requests by route and status,
answers by path (model or grounded fallback).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Path, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from workloads.common.records import is_cve_id
from workloads.rag import agent_tools, changes, openapi, problems
from workloads.rag.answers.select import Selection
from workloads.rag.coverage import as_json
from workloads.rag.guards import BodyLimit, Guard
from workloads.rag.history_api import history_router
from workloads.rag.problems import FieldError, ProblemError
from workloads.rag.schemas import (
    AskEvent,
    AskRequest,
    AskResponse,
    Readiness,
    SearchRequest,
    SearchResponse,
    SearchResult,
    as_of_moment,
)
from workloads.rag.service import RagService, sse
from workloads.rag.settings import RagSettings
from workloads.rag.views import history_view, record_view

CVE_ID = Path(
    description="a CVE id, CVE-YYYY-NNNN (any case); anything else is 400 not_a_cve_id",
    json_schema_extra={"pattern": "^[Cc][Vv][Ee]-[0-9]{4}-[0-9]{4,}$"},
)
# The problems each route can answer with, as its OpenAPI responses.
_V1 = (
    problems.MISSING_API_KEY,
    problems.INVALID_API_KEY,
    problems.RATE_LIMITED,
    problems.INTERNAL_ERROR,
    problems.STORE_UNAVAILABLE,
    problems.STORE_TIMEOUT,
)
_BODY = (
    problems.BAD_REQUEST,
    problems.INVALID_REQUEST,
    problems.REQUEST_TOO_LARGE,
    problems.EMBEDDING_UNAVAILABLE,
)
_RECORD = (problems.NOT_A_CVE_ID, problems.CVE_NOT_FOUND)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cverag_rag_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.seconds = Histogram(
            "cverag_rag_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.answers = Counter("cverag_rag_answers", "answers by path", ["path"], registry=self.registry)


def create_app(settings: RagSettings, service: RagService | None = None) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = service or RagService(settings)
        async with agent_tools.serving(app):
            yield
        await app.state.service.close()

    app = FastAPI(
        title="cverag RAG API",
        version="1",
        lifespan=lifespan,
        description="Hybrid search over CVE records and grounded answers with citations.",
    )
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    guard = Guard(settings)

    problems.install(app)
    openapi.install(app)
    agent_tools.install(app, guard)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # what no handler knew: a 500 problem, the traceback only in the log
            response = problems.unexpected(request, exc)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.seconds.labels(route).observe(time.perf_counter() - started)
        return response

    def svc(request: Request) -> RagService:
        found: RagService = request.app.state.service
        return found

    @app.post(
        "/v1/search",
        response_model=SearchResponse,
        dependencies=[Depends(guard)],
        responses=problems.declared(*_V1, *_BODY),
    )
    async def search(body: SearchRequest, request: Request) -> SearchResponse:
        top_k = body.top_k if "top_k" in body.model_fields_set else settings.top_k
        _check_top_k(top_k, settings)
        try:
            filters = body.filters.to_filters()
            as_of = as_of_moment(body.as_of) if body.as_of else None
            hits = await svc(request).search(body.query, top_k, filters, as_of)
        except ValueError as exc:
            raise ProblemError(problems.INVALID_REQUEST, f"invalid request: {exc}") from exc
        return SearchResponse(
            results=[SearchResult(**vars(h)) for h in hits], index=await svc(request).index_coverage()
        )

    @app.post(
        "/v1/ask",
        response_model=AskResponse,
        dependencies=[Depends(guard)],
        responses={
            200: {"content": {"text/event-stream": {"schema": AskEvent.model_json_schema()}}},
            **problems.declared(*_V1, *_BODY),
        },
    )
    async def ask(body: AskRequest, request: Request) -> Any:
        _check_top_k(body.top_k, settings)
        service_ = svc(request)
        as_of = as_of_moment(body.as_of) if body.as_of else None
        if body.stream:
            chosen = await service_.facts_for(body.question, body.top_k, as_of)
            return StreamingResponse(
                _events(service_, body, chosen, metrics),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        answer = await service_.ask(body.question, body.top_k, as_of)
        metrics.answers.labels("fallback" if answer.fallback_reason else "model").inc()
        return {
            "answer": answer.answer,
            "citations": answer.citations,
            "model": answer.model,
            "index": await service_.index_coverage(),
        }

    @app.get("/v1/cves/{cve_id}", dependencies=[Depends(guard)], responses=problems.declared(*_V1, *_RECORD))
    async def record(request: Request, cve_id: str = CVE_ID) -> dict[str, Any]:
        found = await svc(request).record(_cve_id(cve_id))
        if found is None:
            raise _not_found(cve_id)
        facts, doc = found
        return record_view(facts, doc)

    @app.get(
        "/v1/cves/{cve_id}/history",
        dependencies=[Depends(guard)],
        responses=problems.declared(*_V1, *_RECORD),
    )
    async def history(request: Request, cve_id: str = CVE_ID) -> dict[str, Any]:
        versions = await svc(request).history(_cve_id(cve_id))
        if not versions:
            raise _not_found(cve_id)
        return history_view(versions)

    app.include_router(history_router(guard))

    app.include_router(changes.router(guard))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a dependency is failing (see checks)"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """A probe, not an error: 503 with the same body as 200 when a check fails."""
        checks = await svc(request).ready()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            status_code=200 if ok else 503,
            content={"status": "ready" if ok else "not ready", "checks": checks},
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(
            resources.files("workloads.rag").joinpath("page.html").read_text(encoding="utf-8")
        )

    return app


def _cve_id(raw: str) -> str:
    if not (raw.isascii() and is_cve_id(raw.upper())):  # ``$`` had let "CVE-2099-1008\n" through
        raise ProblemError(problems.NOT_A_CVE_ID, f"not a CVE id: {raw[:40]!r} (expected CVE-YYYY-NNNN)")
    return raw.upper()


def _not_found(cve_id: str) -> ProblemError:
    return ProblemError(problems.CVE_NOT_FOUND, f"{cve_id.upper()} is not in the store")


def _check_top_k(top_k: int, settings: RagSettings) -> None:
    if top_k > settings.max_top_k:
        raise problems.invalid([FieldError(field="top_k", message=f"at most {settings.max_top_k}")])


async def _events(
    service: RagService, body: AskRequest, chosen: Selection, metrics: Metrics
) -> AsyncIterator[str]:
    async for event, data in service.ask_events(body.question, body.top_k, chosen):
        if event == "done":
            metrics.answers.labels("fallback" if data["model"] == "none" else "model").inc()
            data = {**data, "index": as_json(await service.index_coverage())}
        yield sse(event, data)
