"""Every error of the RAG API as an RFC 9457 problem (``application/problem+json``).

One shape for all of them, so a client handles errors in one place::

    {"type": "https://cverag.io/problems/invalid-request", "code": "invalid_request",
     "title": "The request is not valid", "status": 422, "instance": "/v1/search",
     "detail": "invalid request: top_k: Input should be greater than or equal to 1",
     "errors": [{"field": "top_k", "message": "Input should be greater than or equal to 1"}]}

``type`` and ``code`` name the kind of problem and never change (branch on them, not on
``detail``); ``title`` is the kind's summary, ``detail`` what to change in this request, and
``errors`` (validation only) the offending fields.  Upstream failures are named, not passed
through: the store refusing or dropping connections is 503 ``store_unavailable``, a statement
cancelled by its timeout 504 ``store_timeout``.  Anything unexpected is logged here with its
traceback and answered 500 ``internal_error`` with a detail that reveals nothing inside.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException

from workloads.index.embedding import EmbeddingError

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://cverag.io/problems/"
log = logging.getLogger(__name__)
Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


@dataclass(frozen=True)
class Kind:
    """A kind of problem: its stable code (and ``type`` URI), HTTP status and title."""

    code: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return TYPE_BASE + self.code.replace("_", "-")


BAD_REQUEST = Kind("bad_request", 400, "The request could not be read")
NOT_A_CVE_ID = Kind("not_a_cve_id", 400, "Not a CVE id")
INVALID_CURSOR = Kind("invalid_cursor", 400, "Not a change cursor of this store")
MISSING_API_KEY = Kind("missing_api_key", 401, "An API key is required")
INVALID_API_KEY = Kind("invalid_api_key", 401, "The API key is not valid")
FORBIDDEN = Kind("forbidden", 403, "Forbidden")
NOT_FOUND = Kind("not_found", 404, "No such resource")
CVE_NOT_FOUND = Kind("cve_not_found", 404, "The CVE is not in the store")
METHOD_NOT_ALLOWED = Kind("method_not_allowed", 405, "Method not allowed")
REQUEST_TOO_LARGE = Kind("request_too_large", 413, "The request body is too large")
INVALID_REQUEST = Kind("invalid_request", 422, "The request is not valid")
RATE_LIMITED = Kind("rate_limited", 429, "Too many requests")
INTERNAL_ERROR = Kind("internal_error", 500, "Internal error")
STORE_UNAVAILABLE = Kind("store_unavailable", 503, "The store is unavailable")
EMBEDDING_UNAVAILABLE = Kind("embedding_unavailable", 503, "The embedding model is unavailable")
STORE_TIMEOUT = Kind("store_timeout", 504, "The store did not answer in time")
HTTP_ERROR = Kind("http_error", 400, "HTTP error")  # any other status the framework answers with
KINDS = (
    BAD_REQUEST,
    NOT_A_CVE_ID,
    INVALID_CURSOR,
    MISSING_API_KEY,
    INVALID_API_KEY,
    FORBIDDEN,
    NOT_FOUND,
    CVE_NOT_FOUND,
    METHOD_NOT_ALLOWED,
    REQUEST_TOO_LARGE,
    INVALID_REQUEST,
    RATE_LIMITED,
    INTERNAL_ERROR,
    STORE_UNAVAILABLE,
    EMBEDDING_UNAVAILABLE,
    STORE_TIMEOUT,
    HTTP_ERROR,
)
_BY_STATUS = {k.status: k for k in (BAD_REQUEST, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED, REQUEST_TOO_LARGE)}
_BY_STATUS |= {k.status: k for k in (INVALID_REQUEST, RATE_LIMITED)}
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class FieldError(BaseModel):
    field: str = Field(
        description="the offending field, dotted from the body: 'filters.kev'; 'body' for all of it"
    )
    message: str = Field(description="what is wrong with it")


def _absent_not_null(schema: dict[str, Any]) -> None:
    """``errors`` is left out when there are none; it is never ``null``."""
    schema.pop("default", None)


class Problem(BaseModel):
    """An RFC 9457 problem; more members may be added, so clients ignore the ones they do not know."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(
        description=f"{TYPE_BASE}<code, with '-' for '_'>: stable, identifies the kind",
        json_schema_extra={"format": "uri"},
    )
    code: str = Field(description="stable code of the kind: " + ", ".join(k.code for k in KINDS))
    title: str = Field(description="summary of the kind (the same for every occurrence)")
    status: int = Field(ge=400, le=599, description="the HTTP status of the response")
    detail: str = Field(description="what went wrong with this request, and what to change")
    instance: str = Field(description="the path of the request")
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None,
        description="validation problems only: each offending field",
        json_schema_extra=_absent_not_null,
    )


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem of ``kind``."""

    def __init__(
        self,
        kind: Kind,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.headers, self.errors = kind, detail, dict(headers or {}), list(errors)


def response(
    kind: Kind,
    detail: str,
    instance: str,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] = (),
) -> JSONResponse:
    body = Problem(
        type=kind.type,
        code=kind.code,
        title=kind.title,
        status=status or kind.status,
        detail=detail,
        instance=instance,
        errors=list(errors) or None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=body.status,
        headers=dict(headers or {}),
        media_type=MEDIA_TYPE,
    )


def declared(*kinds: Kind) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route that can answer with ``kinds`` (grouped by status)."""
    by_status: dict[int, list[Kind]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": "; ".join(f"`{k.code}`: {k.title}" for k in group),
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        for status, group in sorted(by_status.items())
    }


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    found = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
        name = "body" if error["type"] == "json_invalid" or not loc else ".".join(loc)
        found.append(FieldError(field=name, message=error["msg"]))
    return found


def invalid(errors: Sequence[FieldError]) -> ProblemError:
    detail = "invalid request: " + "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ProblemError(INVALID_REQUEST, detail, errors=errors)


def unexpected(request: Request, exc: BaseException) -> JSONResponse:
    """The answer to an exception nothing else handled: logged whole here, told to no one."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    detail = "the server failed to answer this request; it has been logged, try again later"
    return response(INTERNAL_ERROR, detail, request.url.path)


def install(app: FastAPI) -> None:
    """Answer every error the app raises as a problem (unexpected ones: :func:`unexpected`)."""

    def handle(kind: Kind, detail: str) -> Handler:
        """An upstream failure: named for the client, its own message only in the log."""

        async def handler(request: Request, exc: Exception) -> JSONResponse:
            log.warning("%s on %s: %s: %s", kind.code, request.url.path, type(exc).__name__, exc)
            return response(kind, detail, request.url.path, headers={"Retry-After": "5"})

        return handler

    async def problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return response(exc.kind, exc.detail, request.url.path, headers=exc.headers, errors=exc.errors)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return await problem(request, invalid(field_errors(exc)))

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _BY_STATUS.get(exc.status_code, HTTP_ERROR)
        headers = exc.headers or {}
        return response(kind, str(exc.detail), request.url.path, status=exc.status_code, headers=headers)

    app.add_exception_handler(ProblemError, problem)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    unavailable = "the store is unreachable or restarting; try again shortly"
    app.add_exception_handler(psycopg.OperationalError, handle(STORE_UNAVAILABLE, unavailable))
    busy = "no store connection became free in time; try again shortly"
    app.add_exception_handler(psycopg_pool.PoolTimeout, handle(STORE_UNAVAILABLE, busy))
    slow = "the store cancelled the query at its statement timeout; try a narrower request or again later"
    app.add_exception_handler(psycopg.errors.QueryCanceled, handle(STORE_TIMEOUT, slow))
    embed = "the embedding model did not answer; try again shortly"
    app.add_exception_handler(EmbeddingError, handle(EMBEDDING_UNAVAILABLE, embed))
