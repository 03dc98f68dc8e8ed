"""The NVD API 2.0 source: CVE items paged by ``startIndex`` in last-modified windows.

Without a cursor the whole catalogue is paged through once; with one, only items modified
since it are fetched, in windows of ``window_days`` (at most 120: the API refuses longer ones),
``page_size`` items per request (at most 2000, the API's own limit).  Items
(``vulnerabilities[]`` elements, ``{"cve": {...}}``) are passed on as they are: mapping NVD's
shape is the store's job.  The API allows 5 requests per rolling 30 s without a key and 50
with one; the limiter keeps us under that instead of collecting 403s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from workloads.feed.fetch import Fetcher, RetryPolicy
from workloads.feed.model import Item, RawRecord, SourceKind
from workloads.feed.ratelimit import RollingWindowLimiter

DEFAULT_NVD_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
MAX_WINDOW = timedelta(days=120)
MAX_PAGE = 2000
WINDOW_SECONDS = 30.0


def nvd_fetcher(
    api_key: str | None, window: float = WINDOW_SECONDS, policy: RetryPolicy | None = None
) -> Fetcher:
    """A fetcher with NVD's key header, request budget and throttling statuses (403 included).

    The limiter's window is 5 % longer than NVD's: we time a request when it leaves, NVD when
    it arrives, and network jitter between the two must not push a sixth request into the window.
    """
    headers = {"apiKey": api_key} if api_key else {}
    limiter = RollingWindowLimiter(50 if api_key else 5, window * 1.05)
    statuses = frozenset({403, 429, 500, 502, 503, 504})
    policy = dataclasses.replace(policy or RetryPolicy(base_delay=6.0), retry_statuses=statuses)
    return Fetcher(headers, policy, limiter)


def windows(start: datetime, end: datetime, width: timedelta = MAX_WINDOW) -> list[tuple[datetime, datetime]]:
    """``[start, end]`` cut into consecutive windows of ``width``, never more than :data:`MAX_WINDOW`."""
    width = min(width, MAX_WINDOW)
    cuts = []
    while start < end:
        stop = min(end, start + width)
        cuts.append((start, stop))
        start = stop
    return cuts


def nvd_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def parse_since(since: Mapping[str, Any] | str | None) -> datetime | None:
    """The start of the next sync: a cursor's ``window_end`` or an ISO-8601 time."""
    value = since.get("window_end") if isinstance(since, Mapping) else since
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class NvdSource:
    kind = SourceKind.NVD

    def __init__(
        self,
        fetcher: Fetcher,
        url: str,
        since: datetime | None,
        until: datetime | None = None,
        page_size: int = MAX_PAGE,
        window: timedelta = MAX_WINDOW,
    ) -> None:
        self._fetcher = fetcher
        self._url = url
        self._since = since
        self._until = until or datetime.now(UTC).replace(microsecond=0)
        self._page_size = max(1, min(page_size, MAX_PAGE))
        self._width = window
        self._cursor: dict[str, Any] = {"window_end": since.isoformat()} if since else {}
        self._finished = 0
        self._window_total: int | None = None

    def items(self) -> Iterator[Item]:
        if self._since is None:
            release = window_id(None, self._until)
            yield from self._window({}, release)
            self._close_window(self._until, release)
            return
        for start, end in windows(self._since, self._until, self._width):
            release = window_id(start, end)
            yield from self._window(
                {"lastModStartDate": nvd_time(start), "lastModEndDate": nvd_time(end)}, release
            )
            self._close_window(end, release)

    def _window(self, params: dict[str, Any], release: str) -> Iterator[Item]:
        index = 0
        while True:
            page, _ = self._fetcher.get_json(
                self._url, {**params, "startIndex": index, "resultsPerPage": self._page_size}
            )
            self._window_total = int(page.get("totalResults", 0))
            items = page.get("vulnerabilities") or []
            for number, item in enumerate(items, start=index):
                yield RawRecord(orjson.dumps(item), f"{release}#{number}", release)
            index += len(items)
            if not items or index >= self._window_total:
                return

    def _close_window(self, end: datetime, release: str) -> None:
        self._finished += self._window_total or 0
        self._window_total = None
        self._cursor = {"window_end": end.isoformat(), "release": release}

    def total(self) -> int | None:
        return None if self._window_total is None else self._finished + self._window_total

    def cursor(self) -> dict[str, Any]:
        return dict(self._cursor)

    def notes(self) -> dict[str, Any]:
        return {}


def window_id(start: datetime | None, end: datetime) -> str:
    """The release id of a window (``nvd:2024-01-01T00:00:00/2024-04-30T00:00:00``); ``full`` without a start."""
    return f"nvd:{_plain(start) if start else 'full'}/{_plain(end)}"


def _plain(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
