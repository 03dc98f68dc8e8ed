"""Building a source from the feed's settings, and listing what is new for the operator."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from workloads.common.settings import secret_value
from workloads.feed.cvelist import DEFAULT_RELEASES_URL, github_headers, plan, releases_since
from workloads.feed.cvelist_source import CvelistSource
from workloads.feed.fetch import Fetcher
from workloads.feed.files import FileSource
from workloads.feed.model import Source, SourceKind, SourceUnavailable
from workloads.feed.nvd import DEFAULT_NVD_URL, NvdSource, nvd_fetcher, parse_since, window_id, windows
from workloads.feed.settings import FeedSettings


def build_source(settings: FeedSettings, since: Mapping[str, Any] | None) -> Source:
    kind, url, policy = settings.source, settings.source_url, settings.retry_policy()
    if kind is SourceKind.CVELIST:
        fetcher = Fetcher(github_headers(secret_value(settings.github_token)), policy)
        return CvelistSource(fetcher, url or DEFAULT_RELEASES_URL, settings.release, since)
    if kind is SourceKind.NVD:
        fetcher = nvd_fetcher(secret_value(settings.nvd_api_key), policy=policy)
        return NvdSource(
            fetcher,
            url or DEFAULT_NVD_URL,
            parse_since(since),
            page_size=settings.nvd_page_size,
            window=settings.nvd_window,
        )
    if not url:
        raise SourceUnavailable("the file source needs --source-url (CVERAG_SOURCE_URL): a path or URL")
    return FileSource(url, Fetcher(policy=policy))


def list_releases(settings: FeedSettings, since: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a run would sync next: every newer release and the minimal ``plan`` among them."""
    kind = settings.source
    if kind is SourceKind.CVELIST:
        fetcher = Fetcher(github_headers(secret_value(settings.github_token)), settings.retry_policy())
        try:
            assets = releases_since(fetcher, settings.source_url or DEFAULT_RELEASES_URL, since)
        finally:
            fetcher.close()
        return {
            "source": kind.value,
            "since": dict(since or {}),
            "releases": [a.as_json() for a in assets],
            "plan": [a.as_json() for a in plan(assets, since)],
        }
    if kind is SourceKind.NVD:
        start = parse_since(since)
        now = datetime.now(UTC).replace(microsecond=0)
        cuts: list[tuple[datetime | None, datetime]] = (
            [*windows(start, now, settings.nvd_window)] if start else [(None, now)]
        )
        items = [{"release": window_id(a, b), "window_end": b.isoformat()} for a, b in cuts]
        return {"source": kind.value, "since": dict(since or {}), "releases": items, "plan": items}
    item = {"release": FileSource(str(settings.source_url)).release}
    return {"source": kind.value, "since": dict(since or {}), "releases": [item], "plan": [item]}
