"""What stands in front of ``/v1``: Bearer API keys, a per-key rate limit, a request size limit.

Keys come from a Secret through ``CVERAG_API_KEYS`` and are compared in constant time; the
rate limit counts per key (per client address when keys are off) in a moving one-minute
window (the ``limits`` library), answering 429 with ``Retry-After``.  Failed authentication
has its own small budget per client address: once an address has spent it, every request
from it is 429 until the window moves, a right key included, or a guesser could still tell a
hit (200) from a miss (429) at full speed.  The client address is the TCP peer unless the
peer is one of ``trusted_proxies`` (:mod:`workloads.rag.server`), so ``X-Forwarded-For``
from anyone else neither picks a bucket nor reaches the access log.  The size limit is an
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
        self.failures_per_minute = settings.auth_failures_per_minute
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.item = RateLimitItemPerMinute(max(self.per_minute, 1))
        self.failures = RateLimitItemPerMinute(max(self.failures_per_minute, 1))

    def __call__(self, request: Request) -> None:
        address = f"addr:{request.client.host if request.client else 'unknown'}"
        guarded = bool(self.keys) and self.failures_per_minute > 0
        if guarded and not self.limiter.test(self.failures, address):
            raise self._limited(self.failures, address, f"{self.failures_per_minute} failed authentications")
        try:
            caller = self._authenticate(request, address)
        except ProblemError:
            if guarded:
                self.limiter.hit(self.failures, address)
            raise
        if self.per_minute > 0 and not self.limiter.hit(self.item, caller):
            raise self._limited(self.item, caller, f"{self.per_minute} requests")

    def _limited(self, item: RateLimitItemPerMinute, key: str, what: str) -> ProblemError:
        reset = self.limiter.get_window_stats(item, key).reset_time
        return ProblemError(
            problems.RATE_LIMITED,
            f"rate limit of {what} per minute exceeded",
            headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))},
        )

    def _authenticate(self, request: Request, address: str) -> str:
        if not self.keys:
            return address
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
