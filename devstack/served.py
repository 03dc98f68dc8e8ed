"""An ASGI app (the RAG API) in a real uvicorn on a free loopback port, in a thread: for the
tests that need a socket (a browser, an HTTP fuzzer) and the benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from devstack import proc
from workloads.rag import server as rag_server
from workloads.rag.settings import RagSettings


@contextmanager
def serving(app: FastAPI, start_timeout: float = 120, settings: RagSettings | None = None) -> Iterator[str]:
    """``with serving(app) as base_url:`` the app's lifespan runs for the block, then it stops.
    With ``settings``, it is served as ``python -m workloads.rag`` serves it (proxies, timeouts)."""
    port = proc.free_port()
    server = uvicorn.Server(
        rag_server.config(app, settings, host="127.0.0.1", port=port, log_level="warning")
        if settings is not None
        else uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    proc.wait_until(lambda: server.started, what="uvicorn", timeout=start_timeout)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)
