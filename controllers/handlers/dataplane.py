"""The operator's one door into ``workloads``: what a source has that is new, store facts,
and the admin client that names a refused Kafka login.

The feed and store programs already know how to list releases, read a store and tell a wrong
Kafka password from a dead broker; the operator asks them instead of re-implementing any, so a Job and the operator can never
disagree about what "the next release" or "the schema version" is.  Nothing else in
``controllers`` imports ``workloads``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from controllers.api.feed import CveFeed
from workloads.common.kafka_login import ObservedAdmin as ObservedAdmin  # re-exported for kafka_admin
from workloads.feed import cli as feed_cli
from workloads.feed.model import SourceUnavailable
from workloads.feed.sources import list_releases
from workloads.store.db import StoreTarget
from workloads.store.migrate import available, schema_version
from workloads.store.query import CveStore as StoreReader

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
    args = feed_cli.parser().parse_args(
        ["--source", source.type, "--source-url", url, "--retry-attempts", "2", "--retry-base-delay", "1"]
    )
    since = feed_cli.parse_since(cursor_of(last) or feed.spec.since)
    try:
        listed = list_releases(args, since, {"github_token": token, "nvd_api_key": api_key})
    except SourceUnavailable as exc:
        reason = "SourceRateLimited" if THROTTLED.search(str(exc)) else "SourceUnreachable"
        raise SourceError(
            "SourceUnauthorized" if UNAUTHORIZED.search(str(exc)) else reason, str(exc)
        ) from exc
    plan = listed["plan"]
    if source.cvelist_v5 is not None and not source.cvelist_v5.include_baseline and last is None:
        plan = [item for item in plan if item.get("kind") != "baseline"]
    ids = [str(item["release"]) for item in plan]
    if source.nvd is not None and ids:
        ids = [f"{ids[0].rsplit('/', 1)[0]}/{ids[-1].rsplit('/', 1)[-1]}"]
    return [r for r in ids if r != last]


@dataclass(frozen=True)
class StoreFacts:
    schema_version: int
    records: int | None = None
    versions: int | None = None
    last_ingest: datetime | None = None
    positions: dict[int, int] = field(default_factory=dict)  # partition -> next offset consumed


def expected_schema_version() -> int:
    """The newest migration the workloads package ships (the image the operator runs)."""
    return max((m.number for m in available()), default=0)


def _target(conninfo: str, schema: str) -> StoreTarget:
    return StoreTarget(make_conninfo(conninfo, connect_timeout=10), schema)


def store_facts(
    conninfo: str, schema: str, with_counts: bool, consumer: tuple[str, str] | None = None
) -> StoreFacts:
    """Schema version, and once its tables exist the store's counts and, for ``consumer``
    (group, topic), the positions its consumers committed with their versions."""
    target = _target(conninfo, schema)
    if not with_counts:
        return StoreFacts(schema_version(target))
    with StoreReader(target) as reader:
        stats = reader.stats()
        positions = reader.positions(*consumer) if consumer else {}
    return StoreFacts(stats.schema_version, stats.cves, stats.versions, stats.last_ingest_at, positions)


def drop_schema(conninfo: str, schema: str) -> bool:
    """``DROP SCHEMA … CASCADE`` for a store deleted with ``deletionPolicy: Delete``."""
    with psycopg.connect(make_conninfo(conninfo, connect_timeout=10), autocommit=True) as conn:
        row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [schema]).fetchone()
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return bool(row and row[0])
