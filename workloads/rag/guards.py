"""What stands in front of ``/v1``: Bearer API keys, a per-key rate limit, a request size limit.

Keys come from a Secret through ``CVERAG_API_KEYS`` and are compared in constant time; the
rate limit counts per key (per client address when keys are off) in a moving one-minute
window (the ``limits`` library), answering 429 with ``Retry-After``.  The size limit is an
ASGI middleware that refuses a declared ``Content-Length`` over the limit before reading,
and stops reading a chunked body as soon as it passes the limit.  Each refusal is a problem
(:mod:`workloads.rag.problems`): ``missing_api_key``, ``invalid_api_key``, ``rate_limited``,
``request_too_large``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from fastapi import HTTPException, Request
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workloads.rag import problems
from workloads.rag.problems import ProblemError
from workloads.rag.settings import RagSettings


class Guard:
    """A FastAPI dependency: authenticates, then rate-limits, each ``/v1`` request."""

    def __init__(self, settings: RagSettings) -> None:
        self.keys = [k.encode() for k in settings.api_keys]
        self.per_minute = settings.rate_limit_per_minute
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.item = RateLimitItemPerMinute(max(self.per_minute, 1))

    def __call__(self, request: Request) -> None:
        caller = self._authenticate(request)
        if self.per_minute > 0 and not self.limiter.hit(self.item, caller):
            reset = self.limiter.get_window_stats(self.item, caller).reset_time
            raise ProblemError(
                problems.RATE_LIMITED,
                f"rate limit of {self.per_minute} requests per minute exceeded",
                headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))},
            )

    def _authenticate(self, request: Request) -> str:
        if not self.keys:
            return f"addr:{request.client.host if request.client else 'unknown'}"
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        presented = token.strip().encode()
        if scheme.lower() != "bearer" or not presented:
            raise ProblemError(
                problems.MISSING_API_KEY,
                "missing API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not any(hmac.compare_digest(presented, key) for key in self.keys):
            raise ProblemError(
                problems.INVALID_API_KEY,
                "invalid API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return "key:" + hashlib.sha256(presented).hexdigest()[:16]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 ``request_too_large`` problem."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # FastAPI turns other errors while reading the body into a 400
                raise HTTPException(413, self.message)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:
            if started or exc.status_code != 413:
                raise
            await self._refuse(scope, receive, send)

    @property
    def message(self) -> str:
        return f"request body larger than {self.limit} bytes"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = problems.response(problems.REQUEST_TOO_LARGE, self.message, scope.get("path", ""))
        await refusal(scope, receive, send)
