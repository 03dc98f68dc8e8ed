"""What a feed's source has that is new, asked of ``workloads.feed`` itself.

The feed program already knows how to list releases; the operator asks it instead of
re-implementing any, so a Job and the operator can never disagree about what "the next
release" is.
"""

from __future__ import annotations

import re

from controllers.api.feed import CveFeed
from workloads.feed.model import SourceUnavailable
from workloads.feed.releases import planned_releases

THROTTLED = re.compile(r"HTTP (403|429)\b|rate limit", re.IGNORECASE)
UNAUTHORIZED = re.compile(r"HTTP 401\b")


class SourceError(RuntimeError):
    """The source could not answer; ``reason`` is the condition reason people see."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def cursor_of(release: str | None) -> str | None:
    """What ``--since`` takes after ``release``: an NVD window's end, else the release id itself."""
    if release and release.startswith("nvd:"):
        return release.rsplit("/", 1)[-1]
    return release


def pending_releases(feed: CveFeed, last: str | None, token: str | None, api_key: str | None) -> list[str]:
    """Release ids to sync after ``last``, oldest first, one Job each.

    cvelistV5: the feed's own minimal plan (deltas are cumulative per day, so a day's newest
    delta stands for the older ones), without the baseline when ``includeBaseline`` is off.
    NVD: one window from the cursor to now.  File: the file, once.
    """
    source = feed.spec.source
    url = (source.cvelist_v5 and source.cvelist_v5.releases_url) or (source.nvd and source.nvd.url)
    url = url or (source.file.url if source.file else "")
    since = cursor_of(last) or feed.spec.since
    try:
        plan = planned_releases(source.type, url, since, github_token=token, nvd_api_key=api_key)
    except SourceUnavailable as exc:
        reason = "SourceRateLimited" if THROTTLED.search(str(exc)) else "SourceUnreachable"
        raise SourceError(
            "SourceUnauthorized" if UNAUTHORIZED.search(str(exc)) else reason, str(exc)
        ) from exc
    if source.cvelist_v5 is not None and not source.cvelist_v5.include_baseline and last is None:
        plan = [item for item in plan if not item.baseline]
    ids = [item.release for item in plan]
    if source.nvd is not None and ids:
        ids = [f"{ids[0].rsplit('/', 1)[0]}/{ids[-1].rsplit('/', 1)[-1]}"]
    return [r for r in ids if r != last]
