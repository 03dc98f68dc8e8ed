"""The change stream: ``GET /v1/changes`` (pages, or server-sent events) and ``GET /v1/export``.

A follower keeps one cursor (:mod:`changes_cursor`): each page says where the next one starts,
and each event's ``id`` is the cursor after it, so an ``EventSource`` that reconnects (the API
restarted, a replica went away) sends ``Last-Event-ID`` and resumes with nothing missed or
sent twice.  Positions come from the store (:mod:`workloads.store.change_feed`), not from this
process, which is why a restart does not move them.  Filters (vendor, product, minimum
severity, KEV) apply to each version as written.  ``/v1/export`` (:mod:`changes_export`)
streams the same as NDJSON, or the whole current store, ending with the cursor to follow on from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from workloads.rag import changes_cursor, changes_export, problems
from workloads.rag.guards import Guard
from workloads.rag.problems import ProblemError
from workloads.rag.schemas import Severity
from workloads.rag.service import RagService
from workloads.store import change_feed
from workloads.store.change_feed import Change, ChangeFilter, Page

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # how often a live stream looks for new versions
HEARTBEAT_SECONDS = 15.0  # a comment line keeps proxies from closing an idle stream
RETRY_MS = 2000  # what an EventSource waits before reconnecting
SSE = "text/event-stream"
NOW = "now"
_SINCE = (
    "cursor from a previous page or event (absent: from the first version; 'now': only what "
    "is stored from now on)"
)
_EXPORT_SINCE = "cursor: export the changes after it; absent: export the current store"
_ERRORS = (problems.INVALID_CURSOR, problems.INVALID_REQUEST)
V1 = (
    problems.MISSING_API_KEY,
    problems.INVALID_API_KEY,
    problems.RATE_LIMITED,
    problems.INTERNAL_ERROR,
    problems.STORE_UNAVAILABLE,
    problems.STORE_TIMEOUT,
)


class ChangeEvent(BaseModel):
    """One stored version of a CVE, in the store's commit order."""

    cursor: str = Field(description="resume after this change: pass it as since (or Last-Event-ID)")
    cve_id: str
    version: int = Field(description="the CVE's version number; its diff: /v1/cves/{id}/history")
    state: str
    changes: list[str] = Field(description="what changed from the previous version ('created' for the first)")
    valid_from: datetime = Field(description="when the source says this version took effect")
    date_updated: datetime | None
    ingested_at: datetime
    out_of_order: bool = Field(description="older in source time than the version before it")
    source: str | None
    release: str | None
    title: str | None
    severity: str | None
    score: float | None
    vendors: list[str]
    products: list[str]
    kev: bool


class ChangePage(BaseModel):
    changes: list[ChangeEvent]
    cursor: str = Field(description="where the next page starts (it moves past filtered-out versions too)")
    more: bool = Field(description="more versions were stored past cursor when this page was read")


class Feed:
    """The feed of one store, read through the API's pool (consistent snapshots, see change_feed)."""

    def __init__(self, service: RagService) -> None:
        self.pool, self.target = service.pool, service.settings.index.store

    def cursor(self, seq: int) -> str:
        return changes_cursor.encode(self.target.schema, seq)

    def position(self, since: str | None) -> int:
        """The seq ``since`` names (a 400 problem if it names none) or the head for 'now'."""
        if since is None or not since.strip():
            return 0
        if since.strip().lower() == NOW:
            with self.pool.connection() as conn, change_feed.consistent(conn, self.target) as snap:
                return change_feed.head(snap)
        try:
            return changes_cursor.decode(self.target.schema, since)
        except changes_cursor.InvalidCursor as exc:
            raise ProblemError(problems.INVALID_CURSOR, str(exc)) from None

    def page(self, after: int, limit: int, wanted: ChangeFilter) -> Page:
        with self.pool.connection() as conn, change_feed.consistent(conn, self.target) as snap:
            return change_feed.page(snap, after, limit, wanted)

    def described(self, change: Change) -> dict[str, Any]:
        return self.event(change).model_dump(mode="json")

    def event(self, change: Change) -> ChangeEvent:
        return ChangeEvent(
            cursor=self.cursor(change.seq),
            **{k: v for k, v in vars(change).items() if k not in ("seq", "record")},
        )


def wanted_changes(
    vendor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    product: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    severity: Annotated[Severity | None, Query(description="minimum severity")] = None,
    kev: Annotated[bool | None, Query(description="only (true) or never (false) known exploited")] = None,
) -> ChangeFilter:
    return ChangeFilter(
        vendor=vendor, product=product, min_severity=severity.upper() if severity else None, kev=kev
    )


def router(guard: Guard) -> APIRouter:
    """The change-stream routes behind ``guard``: the same keys and rate limit as all of /v1."""
    api = APIRouter(dependencies=[Depends(guard)])
    exports = asyncio.Semaphore(changes_export.MAX_CONCURRENT)

    @api.get(
        "/v1/changes",
        response_model=ChangePage,
        responses={
            200: {"content": {SSE: {"schema": {"type": "string", "description": "event: change|progress"}}}},
            **problems.declared(*V1, *_ERRORS),
        },
    )
    async def changes(
        request: Request,
        wanted: Annotated[ChangeFilter, Depends(wanted_changes)],
        since: Annotated[str | None, Query(max_length=100, description=_SINCE)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        accept: Annotated[str, Header(include_in_schema=False)] = "application/json",
        last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Any:
        """Versions stored after ``since``, oldest first; with ``Accept: text/event-stream``, the
        same as a live stream that never ends (``Last-Event-ID`` overrides ``since``)."""
        feed = Feed(request.app.state.service)
        live = SSE in accept
        after = await run_in_threadpool(feed.position, last_event_id if live and last_event_id else since)
        first = await run_in_threadpool(
            feed.page, after, limit, wanted
        )  # a failing store: a problem, not a cut stream
        if not live:
            return ChangePage(
                changes=[feed.event(c) for c in first.changes],
                cursor=feed.cursor(first.position),
                more=first.more,
            )
        return StreamingResponse(
            _follow(feed, after, first, limit, wanted, request),
            media_type=SSE,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get(
        "/v1/export",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": changes_export.__doc__.splitlines()[0],
                "content": {changes_export.NDJSON: {}},
            },
            **problems.declared(*V1, *_ERRORS),
        },
    )
    async def export(
        request: Request,
        wanted: Annotated[ChangeFilter, Depends(wanted_changes)],
        since: Annotated[str | None, Query(max_length=100, description=_EXPORT_SINCE)] = None,
    ) -> StreamingResponse:
        """NDJSON, one object a line: each CVE's current record (``type: record``, by id), or with
        ``since`` each change after it with its record (``type: change``); then ``type: end``
        with the cursor to follow the change stream from."""
        if exports.locked():
            detail = f"at most {changes_export.MAX_CONCURRENT} exports run at once; try again when one ends"
            raise ProblemError(problems.RATE_LIMITED, detail, headers={"Retry-After": "30"})
        feed = Feed(request.app.state.service)
        after = None if since is None else await run_in_threadpool(feed.position, since)
        await exports.acquire()
        try:
            session = await run_in_threadpool(
                changes_export.ExportSession, feed.target, after, wanted, feed.cursor, feed.described
            )
        except BaseException:
            exports.release()
            raise
        return StreamingResponse(
            changes_export.ndjson(session, exports.release), media_type=changes_export.NDJSON
        )

    return api


def _sse(event: str, cursor: str, data: dict[str, Any]) -> str:
    return f"id: {cursor}\nevent: {event}\ndata: {json.dumps(data)}\n\n"


async def _follow(
    feed: Feed, after: int, page: Page, limit: int, wanted: ChangeFilter, request: Request
) -> AsyncIterator[str]:
    """Events from ``page`` on, polling the store.  ``progress`` moves the client's cursor past
    versions the filters left out; a store failure ends the stream with an ``error`` event
    (the client reconnects from its last id)."""
    yield f"retry: {RETRY_MS}\n\n"
    told, idle = after, 0.0
    while True:
        for change in page.changes:
            yield _sse("change", feed.cursor(change.seq), feed.described(change))
            told, idle = change.seq, 0.0
        if page.position > told:
            told, idle = page.position, 0.0
            yield _sse("progress", feed.cursor(told), {"cursor": feed.cursor(told)})
        if not page.more:
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS
            if idle >= HEARTBEAT_SECONDS:
                yield ": keepalive\n\n"
                idle = 0.0
            if await request.is_disconnected():
                return
        try:
            page = await run_in_threadpool(feed.page, page.position, limit, wanted)
        except (psycopg.Error, OSError) as exc:
            log.warning("change stream ended by the store: %s: %s", type(exc).__name__, exc)
            yield (
                "event: error\ndata: "
                + json.dumps({"detail": "the store failed; reconnect to resume"})
                + "\n\n"
            )
            return
