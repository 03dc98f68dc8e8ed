"""A threaded JSON-over-HTTP server on 127.0.0.1 for fakes of remote APIs (GET/POST/DELETE).

The handler is a plain function from :class:`Request` to :class:`Reply`; it runs in the
server's threads, so fakes that keep state guard it with a lock.  A ``Reply`` body of type
``bytes`` is sent as is (with its own content type), anything else as JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class JsonHttpServer:
    def __init__(self, handler: Callable[[Request], Reply]) -> None:
        self._handler = handler
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> JsonHttpServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner._serve(self, "GET")

            def do_POST(self) -> None:
                owner._serve(self, "POST")

            def do_DELETE(self) -> None:
                owner._serve(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="json-http", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method,
            split.path,
            {k: v[-1] for k, v in parse_qs(split.query).items()},
            {k.lower(): v for k, v in handler.headers.items()},
            handler.rfile.read(length) if length else b"",
        )
        try:
            reply = self._handler(request)
        except Exception as exc:  # a bug in a fake must show up as a 500, not a hung client
            reply = Reply(500, {"error": {"code": "INTERNAL", "message": f"{type(exc).__name__}: {exc}"}})
        _write(handler, reply)


def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if isinstance(reply.body, bytes):
        payload = reply.body
    else:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        if reply.body is not None:
            handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
