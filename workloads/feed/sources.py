"""Building a source from the command line, and listing what is new for the operator."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from workloads.feed.cvelist import DEFAULT_RELEASES_URL, github_headers, plan, releases_since
from workloads.feed.cvelist_source import CvelistSource
from workloads.feed.fetch import Fetcher, RetryPolicy
from workloads.feed.files import FileSource
from workloads.feed.model import Source, SourceKind, SourceUnavailable
from workloads.feed.nvd import DEFAULT_NVD_URL, NvdSource, nvd_fetcher, parse_since, window_id, windows

Secrets = Mapping[str, str | None]


def _policy(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(attempts=max(1, args.retry_attempts), base_delay=args.retry_base_delay)


def build_source(args: argparse.Namespace, since: Mapping[str, Any] | None, secrets: Secrets) -> Source:
    kind = SourceKind(args.source)
    if kind is SourceKind.CVELIST:
        fetcher = Fetcher(github_headers(secrets.get("github_token")), _policy(args))
        return CvelistSource(fetcher, args.source_url or DEFAULT_RELEASES_URL, args.release, since)
    if kind is SourceKind.NVD:
        fetcher = nvd_fetcher(secrets.get("nvd_api_key"), policy=_policy(args))
        return NvdSource(fetcher, args.source_url or DEFAULT_NVD_URL, parse_since(since))
    if not args.source_url:
        raise SourceUnavailable("the file source needs --source-url (CVERAG_SOURCE_URL): a path or URL")
    return FileSource(args.source_url, Fetcher(policy=_policy(args)))


def list_releases(
    args: argparse.Namespace, since: Mapping[str, Any] | None, secrets: Secrets
) -> dict[str, Any]:
    """What a run would sync next: every newer release and the minimal ``plan`` among them."""
    kind = SourceKind(args.source)
    if kind is SourceKind.CVELIST:
        fetcher = Fetcher(github_headers(secrets.get("github_token")), _policy(args))
        try:
            assets = releases_since(fetcher, args.source_url or DEFAULT_RELEASES_URL, since)
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
        cuts: list[tuple[datetime | None, datetime]] = [*windows(start, now)] if start else [(None, now)]
        items = [{"release": window_id(a, b), "window_end": b.isoformat()} for a, b in cuts]
        return {"source": kind.value, "since": dict(since or {}), "releases": items, "plan": items}
    item = {"release": FileSource(str(args.source_url)).release}
    return {"source": kind.value, "since": dict(since or {}), "releases": [item], "plan": [item]}
