"""How the API is served: the uvicorn configuration ``python -m workloads.rag`` runs, in one place.

Forwarding headers: uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default, so any
process beside the API (a sidecar, a port-forward, another pod's hostNetwork) could name
itself any client: a new rate-limit bucket per request and forged access-log lines.  Here
they are honoured only from ``trusted_proxies`` (CIDRs, none by default); without any, the
TCP peer is the client.

Slow clients: uvicorn only times out idle keep-alive connections; a client that sends half
its headers, or declares a body and sends part of it, holds a connection (and a file
descriptor) forever.  :class:`TimedH11Protocol` closes a connection whose request headers
are not complete ``header_timeout`` seconds after its first byte (or after connecting), or
whose body is not complete ``body_timeout`` seconds after its headers.  Headers larger than
h11's 16 KiB are refused with 400 by h11 itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from workloads.rag.settings import RagSettings


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and for its body."""

    header_timeout = 10.0
    body_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of what the connection now awaits: a request's headers (from the
        connection or the previous response on; this also bounds keep-alive idling), then its
        body.  None while the app works or writes: the deadline is the client's, not the app's."""
        state = self.conn.their_state
        awaiting = self.cycle is None or self.cycle.response_complete
        phase = "headers" if state is h11.IDLE and awaiting else "body" if state is h11.SEND_BODY else None
        if phase == self._phase:
            return
        self._stop()
        self._phase = phase
        if phase is not None:
            timeout = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(timeout, self._expired)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request %s did not arrive in time", self._phase)
            self.transport.close()


def config(
    app: Any, settings: RagSettings, host: str | None = None, port: int | None = None, **extra: Any
) -> uvicorn.Config:
    """The uvicorn config for ``app`` under ``settings`` (``extra``: e.g. ``log_level``)."""
    trusted = [str(network) for network in settings.trusted_proxies]
    protocol = type(
        "RagH11Protocol",
        (TimedH11Protocol,),
        {"header_timeout": settings.header_timeout, "body_timeout": settings.body_timeout},
    )
    return uvicorn.Config(
        app,
        http=protocol,
        timeout_keep_alive=settings.keep_alive_timeout,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        **{"log_level": "info", **extra},
    )
