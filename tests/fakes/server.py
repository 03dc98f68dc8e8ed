"""The threaded HTTP server under every fake, with a queue of planned faults.

A fault is planned for the next ``times`` requests of one *target* (``"api"`` or
``"download"``): answer with an error status and headers (a 429 storm with ``Retry-After``,
503s), or send a complete set of headers with a ``Content-Length`` but only part of the body
and then close the connection, which is what a truncated transfer looks like to a client.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    file: Path | None = None
    truncate_at: float | None = None  # fraction of the body actually sent


@dataclass(frozen=True)
class Fault:
    status: int | None
    headers: dict[str, str]
    truncate_at: float | None = None


class FaultPlan:
    """Thread-safe queues of faults per target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {}
        self.served: list[tuple[str, Fault]] = []

    def fail(self, target: str, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        self._add(target, Fault(status, dict(headers or {})), times)

    def truncate(self, target: str, times: int = 1, fraction: float = 0.5) -> None:
        self._add(target, Fault(None, {}, fraction), times)

    def _add(self, target: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._queues.setdefault(target, deque()).extend([fault] * times)

    def take(self, target: str) -> Fault | None:
        with self._lock:
            queue = self._queues.get(target)
            if not queue:
                return None
            fault = queue.popleft()
            self.served.append((target, fault))
            return fault

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())


class FakeServer:
    """Subclasses implement :meth:`route`; faults are applied before it per :meth:`target`."""

    def __init__(self) -> None:
        self.faults = FaultPlan()
        self.requests: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1") -> Self:
        """Serve on ``host`` (a free port); pods on the real node reach the fake at its gateway address."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def target(self, request: Request) -> str:
        return "api"

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        request = Request("GET", split.path, query, {k.lower(): v for k, v in handler.headers.items()})
        self.requests.append(request)
        fault = self.faults.take(self.target(request))
        if fault is not None and fault.status is not None:
            response = Response(
                fault.status, {"Content-Type": "application/json", **fault.headers}, b'{"message":"fault"}'
            )
        else:
            response = self.route(request)
            if fault is not None:
                response.truncate_at = fault.truncate_at
        _write(handler, response)


def _write(handler: BaseHTTPRequestHandler, response: Response) -> None:
    size = response.file.stat().st_size if response.file else len(response.body)
    handler.send_response(response.status)
    for name, value in response.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    limit = size if response.truncate_at is None else int(size * response.truncate_at)
    if response.file is not None:
        with response.file.open("rb") as stream:
            _copy(stream, handler.wfile, limit)
    else:
        handler.wfile.write(response.body[:limit])
    if limit < size:
        handler.wfile.flush()
        handler.close_connection = True


def _copy(source: Any, sink: Any, limit: int) -> None:
    left = limit
    while left > 0:
        chunk = source.read(min(left, 1024 * 1024))
        if not chunk:
            return
        sink.write(chunk)
        left -= len(chunk)
