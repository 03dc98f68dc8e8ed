"""A value loaded on first use and loaded again once it is ``ttl`` seconds old.

The caches this replaces started from ``loaded = 0.0`` and compared it with
``time.monotonic()``, which counts from the machine's boot: on a node up for less than the
ttl the value was never loaded (the RAG API's vendor/product catalogue stayed empty for the
first ten minutes of a fresh node).  Here "never loaded" is ``None``, not a time, so the first
``get()`` always loads whatever the clock reads.  A load that raises leaves the previous value
and its age alone, so the next call tries again instead of waiting out a ttl.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from workloads.common.pacing import Clock

T = TypeVar("T")


class Refreshed(Generic[T]):
    """``get()`` returns the cached value, (re)loading it under a lock when it is missing or stale."""

    def __init__(self, load: Callable[[], T], ttl: float, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None  # (loaded at, value); None until the first load

    def get(self) -> T:
        with self._lock:
            if self._cached is None or self._clock() - self._cached[0] > self.ttl:
                value = self._load()
                self._cached = (self._clock(), value)
            return self._cached[1]
