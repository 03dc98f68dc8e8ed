"""HTTP with the manners upstream APIs expect: retries, backoff and rate limits honoured.

GitHub and NVD both throttle: GitHub with ``x-ratelimit-remaining``/``x-ratelimit-reset``
(and ``Retry-After`` for its secondary limits), NVD with 403/429 and a rolling request
window.  A transient failure (connection error, 5xx, truncated body) is retried with
exponential backoff and jitter; a wait longer than ``max_wait`` or too many attempts end in
:class:`SourceUnavailable`, which makes the Job exit non-zero so Kubernetes retries it later.
Downloads stream to a file and are verified before use, so a release zip never has to fit in
memory and a truncated one is fetched again.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from workloads.feed.model import SourceUnavailable
from workloads.feed.ratelimit import RollingWindowLimiter

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
T = TypeVar("T")


class BadDownload(ValueError):
    """A downloaded file failed verification (wrong size, broken archive)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_wait: float = 900.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.max_delay, self.base_delay * 2**attempt)
        return delay * random.uniform(0.75, 1.0)


class Fetcher:
    """A sync httpx client wrapped with the retry policy, rate-limit headers and a limiter."""

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        limiter: RollingWindowLimiter | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._client = httpx.Client(headers=dict(headers or {}), timeout=timeout, follow_redirects=True)
        self._limiter = limiter
        self._sleep = sleep
        self._resume_at = 0.0
        self.retries = 0

    def close(self) -> None:
        self._client.close()

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        """GET ``url`` and parse the body as JSON, retrying transient failures."""

        def attempt() -> tuple[Any, httpx.Response]:
            response = self._request(url, params)
            try:
                return orjson.loads(response.content), response
            except orjson.JSONDecodeError as exc:  # a truncated body that still carried a 200
                raise httpx.DecodingError(f"response is not JSON: {exc}") from exc

        return self._with_retries(url, attempt)

    def download(self, url: str, dest: Path, verify: Callable[[Path], None]) -> None:
        """Stream ``url`` into ``dest`` and ``verify`` it; a bad file is fetched again."""

        def attempt() -> None:
            self._wait_for_turn()
            with self._client.stream("GET", url) as response:
                self._raise_for_status(url, response)
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        out.write(chunk)
            verify(dest)

        self._with_retries(url, attempt)

    def _request(self, url: str, params: Mapping[str, Any] | None) -> httpx.Response:
        self._wait_for_turn()
        response = self._client.get(url, params=params)
        self._raise_for_status(url, response)
        return response

    def _wait_for_turn(self) -> None:
        if self._limiter is not None:
            self._limiter.acquire()
        pause = self._resume_at - time.time()
        if pause > 0:
            self._pause(pause, "rate limit exhausted")

    def _raise_for_status(self, url: str, response: httpx.Response) -> None:
        self._note_rate_limit(response.headers)
        if response.is_success:
            return
        status = response.status_code
        throttled = status in (403, 429) and _limit_signalled(response.headers)
        if status in self.policy.retry_statuses or throttled:
            raise _Retryable(f"HTTP {status} from {url}", _server_delay(response.headers))
        response.read()
        raise SourceUnavailable(f"HTTP {status} from {url}: {response.text[:200]}")

    def _note_rate_limit(self, headers: httpx.Headers) -> None:
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            self._resume_at = max(self._resume_at, float(headers["x-ratelimit-reset"]) + 1.0)

    def _with_retries(self, url: str, attempt: Callable[[], T]) -> T:
        last = ""
        for number in range(self.policy.attempts):
            try:
                return attempt()
            except _Retryable as exc:
                last, delay = str(exc), exc.delay
            except (httpx.TransportError, httpx.DecodingError, BadDownload) as exc:
                last, delay = f"{type(exc).__name__}: {exc}", None
            if number + 1 == self.policy.attempts:
                break
            self.retries += 1
            wait = delay if delay is not None else self.policy.backoff(number)
            log.warning("retrying %s in %.1fs (attempt %d): %s", url, wait, number + 2, last)
            self._pause(wait, last)
        raise SourceUnavailable(f"{url} still failing after {self.policy.attempts} attempts: {last}")

    def _pause(self, seconds: float, why: str) -> None:
        if seconds > self.policy.max_wait:
            raise SourceUnavailable(
                f"asked to wait {seconds:.0f}s ({why}); more than {self.policy.max_wait:.0f}s"
            )
        self._sleep(seconds)


class _Retryable(Exception):
    def __init__(self, message: str, delay: float | None) -> None:
        super().__init__(message)
        self.delay = delay


def _limit_signalled(headers: httpx.Headers) -> bool:
    return "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0"


def _server_delay(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` or a GitHub reset time)."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
        return max(0.0, float(headers["x-ratelimit-reset"]) - time.time() + 1.0)
    return None
