"""A rolling-window request limiter (NVD: 5 requests per 30 s without a key, 50 with one).

NVD counts requests in a rolling window rather than a fixed one, so a token bucket refilled
per second would still burst past it; remembering the send times of the last ``limit``
requests and waiting until the oldest leaves the window matches the rule exactly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# Float rounding can leave a wait of ~1e-13 s that a clock cannot advance by; count it as over.
_SLACK = 1e-6


class RollingWindowLimiter:
    """Allows at most ``limit`` calls of :meth:`acquire` in any ``window`` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> float:
        """Block until a request may be sent; returns how long this call waited."""
        with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window - _SLACK:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    self.waited += waited
                    return waited
                delay = self.window - (now - self._sent[0])
                self._sleep(delay)
                waited += delay
