"""Slow clients: a connection that sends half a request is closed within the configured timeouts.

The real app is served over a real socket as ``python -m workloads.rag`` serves it, with
header and body timeouts of 1 s.  Each stalled client waits on its socket for far longer
than that (``WAIT``); what is asserted is that the server closed the connection (``recv``
returns end of stream) rather than leaving it open until the client gives up.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from devstack.served import serving
from tests.rag.conftest import Corpus
from workloads.rag.api import create_app
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres]
TIMEOUT = 1.0
WAIT = TIMEOUT + 20.0  # generous slack: a closed connection is the assertion, not the time
BODY = json.dumps({"query": "xss"}).encode()
REQUEST = (
    b"POST /v1/search HTTP/1.1\r\nHost: rag\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY)
) + BODY


@pytest.fixture(scope="module")
def address(corpus: Corpus) -> Iterator[tuple[str, int]]:
    settings = corpus.settings(header_timeout=TIMEOUT, body_timeout=TIMEOUT, keep_alive_timeout=30)
    app = create_app(settings, RagService(settings, embedder=corpus.embedder))
    with serving(app, settings=settings) as base_url:
        url = urlsplit(base_url)
        assert url.hostname is not None and url.port is not None
        yield url.hostname, url.port


def _closed_by_server(sock: socket.socket) -> bool:
    """True when the server ends the stream (whatever it sent first); False if it is still open."""
    sock.settimeout(WAIT)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _response(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_connection_that_sends_nothing_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        assert _closed_by_server(sock)


def test_partial_headers_are_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: rag\r\nContent-")
        assert _closed_by_server(sock)


def test_a_short_body_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(REQUEST[: -len(BODY) + 4])
        assert _closed_by_server(sock)


def test_partial_headers_of_a_second_request_on_a_kept_alive_connection_are_closed(
    address: tuple[str, int],
) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(REQUEST)
        assert _response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHo")
        assert _closed_by_server(sock)


def test_a_prompt_client_is_served_on_one_connection(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        for _ in range(3):
            sock.sendall(REQUEST)
            assert _response(sock).startswith(b"HTTP/1.1 200")
