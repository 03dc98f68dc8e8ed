"""Doing something at most every so often, with a clock that tests can inject.

``time.monotonic()`` counts from an arbitrary point — on Linux, the machine's boot — so a
"last done" of ``0.0`` is *not* "long ago": on a node booted less than ``interval`` seconds
earlier, code that compared ``monotonic() - 0.0`` with the interval silently skipped its first
run (a feed's first progress line, the RAG API's first catalogue load).  :class:`Every` has no
such sentinel: the first call is always due.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class Every:
    """``due()`` is true on the first call, then once ``interval`` seconds have passed since
    the last call that returned true."""

    def __init__(self, interval: float, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
