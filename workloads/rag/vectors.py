"""Query-side access to the vector index: embed the question, ask a backend from a small pool.

The backends hold one connection (pgvector) or one HTTP client (Pinecone) each and are not
meant for concurrent use, so concurrent requests borrow one from a pool of ``size``.  The
in-process embedder is not re-entrant, so embedding is serialised by a lock.  Embedding a
question is most of a vector query's time (tens of ms on a busy core), and the same question
is asked again and again (the page, retries, popular queries), so the last :data:`CACHED`
questions' vectors are kept.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from workloads.index.backends import Filter, Match, VectorBackend
from workloads.index.embedding import Embedder

CACHED = 2048


class VectorSearch:
    def __init__(self, embedder: Embedder, open_backend: Callable[[], VectorBackend], size: int = 4) -> None:
        self.embedder = embedder
        self._embed_lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._backends: queue.Queue[VectorBackend] = queue.Queue()
        self._all = [open_backend() for _ in range(max(1, size))]
        for backend in self._all:
            self._backends.put(backend)

    def embed(self, text: str) -> list[float]:
        with self._embed_lock:
            vector = self._cache.get(text)
            if vector is None:
                vector = self._cache[text] = self.embedder.embed([text])[0]
                if len(self._cache) > CACHED:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(text)
            return vector

    @contextmanager
    def backend(self) -> Iterator[VectorBackend]:
        backend = self._backends.get()
        try:
            yield backend
        finally:
            self._backends.put(backend)

    def query(self, text: str, top_k: int, filter: Filter | None = None) -> list[Match]:
        vector = self.embed(text)
        with self.backend() as backend:
            return backend.query(vector, top_k, filter)

    def count(self) -> int:
        with self.backend() as backend:
            return backend.count()

    def close(self) -> None:
        for backend in self._all:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
