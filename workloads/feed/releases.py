"""What a source has that is new after a cursor: the feed's door for the operator.

The operator decides which sync Job runs next from exactly the plan a feed run would follow,
so the two can never disagree about "the next release".  It asks through this one typed
function instead of building the feed's command line: the settings are built from its
arguments alone (the caller's environment is not the feed's), and the cursor is parsed the
way ``--since`` is.
"""

from __future__ import annotations

from dataclasses import dataclass

from workloads.feed.cli import parse_since
from workloads.feed.model import SourceKind
from workloads.feed.settings import FeedSettings
from workloads.feed.sources import list_releases


@dataclass(frozen=True)
class PlannedRelease:
    """One release a run would sync: its id, and for cvelistV5 whether it is a daily baseline."""

    release: str
    baseline: bool = False


def planned_releases(
    source: SourceKind | str,
    url: str | None,
    since: str | None,
    *,
    github_token: str | None = None,
    nvd_api_key: str | None = None,
    retry_attempts: int = 2,
    retry_base_delay: float = 1.0,
) -> list[PlannedRelease]:
    """The releases after ``since`` (a release id, an NVD window's end or an RFC 3339 time), in
    the minimal plan a feed run would sync, oldest first.

    Raises :class:`~workloads.feed.model.SourceUnavailable` when the source does not answer
    (its message says why: HTTP status, rate limit).
    """
    settings = FeedSettings.from_env(
        {},
        source=SourceKind(source),
        source_url=url or None,
        retry_attempts=retry_attempts,
        retry_base_delay=retry_base_delay,
        github_token=github_token,
        nvd_api_key=nvd_api_key,
    )
    plan = list_releases(settings, parse_since(since))["plan"]
    return [PlannedRelease(str(item["release"]), item.get("kind") == "baseline") for item in plan]
