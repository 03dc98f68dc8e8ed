"""The cvelistV5 source: GitHub release assets of CVEProject/cvelistV5.

Each hourly GitHub release carries the day's baseline (``YYYY-MM-DD_all_CVEs_at_midnight.zip``,
every record) and an hourly delta (``YYYY-MM-DD_delta_CVEs_at_HH00Z.zip``, every record
changed since that baseline).  An *asset* is therefore the unit of sync and its name without
``.zip`` is the release id in message headers and in the cursor.  Because deltas are
cumulative, catching up never needs more than two assets: the newest delta when the cursor is
on the same day, otherwise the newest baseline plus the newest delta after it (a baseline is
the complete state, so no day in between can be missed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from workloads.feed.fetch import Fetcher

log = logging.getLogger(__name__)
DEFAULT_RELEASES_URL = "https://api.github.com/repos/CVEProject/cvelistV5/releases"
ASSET = re.compile(
    r"^(?P<day>\d{4}-\d{2}-\d{2})_(?:all_CVEs_at_midnight|delta_CVEs_at_(?P<hour>\d{2})00Z)\.zip$"
)
BASELINE_HOUR = -1
MAX_PAGES = 20


@dataclass(frozen=True)
class ReleaseAsset:
    """One downloadable zip; ``name`` is the release id (asset file name without ``.zip``)."""

    name: str
    day: str
    hour: int
    url: str
    size: int
    published_at: str
    tag: str

    @property
    def kind(self) -> str:
        return "baseline" if self.hour == BASELINE_HOUR else "delta"

    @property
    def order(self) -> tuple[str, int]:
        return (self.day, self.hour)

    def as_json(self) -> dict[str, Any]:
        return {"release": self.name, "kind": self.kind, "published_at": self.published_at, "size": self.size}


def asset_order(name: str) -> tuple[str, int] | None:
    """Chronological sort key of an asset or release id, or ``None`` for other names."""
    match = ASSET.match(name if name.endswith(".zip") else name + ".zip")
    if match is None:
        return None
    hour = match.group("hour")
    return (match.group("day"), BASELINE_HOUR if hour is None else int(hour))


def github_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def releases_since(
    fetcher: Fetcher, releases_url: str, cursor: Mapping[str, Any] | None
) -> list[ReleaseAsset]:
    """Every asset newer than ``cursor`` (all recent ones without a cursor), oldest first."""
    after = asset_order(str(cursor.get("release", ""))) if cursor else None
    found: dict[str, ReleaseAsset] = {}
    for page in _pages(fetcher, releases_url):
        orders = []
        for asset in _assets(page):
            orders.append(asset.order)
            if after is None or asset.order > after:
                found.setdefault(asset.name, asset)
        if not orders or (after is not None and min(orders) <= after):
            break
        if after is None and any(o[1] == BASELINE_HOUR for o in orders):
            break
    return sorted(found.values(), key=lambda a: a.order)


def plan(assets: list[ReleaseAsset], cursor: Mapping[str, Any] | None) -> list[ReleaseAsset]:
    """The fewest assets (oldest first) that bring a store at ``cursor`` up to date."""
    if not assets:
        return []
    newest_day = assets[-1].day
    today = [a for a in assets if a.day == newest_day]
    deltas = [a for a in today if a.hour != BASELINE_HOUR]
    latest_delta = deltas[-1:]
    after = asset_order(str(cursor.get("release", ""))) if cursor else None
    if after is not None and after[0] == newest_day:
        return latest_delta
    baseline = [a for a in today if a.hour == BASELINE_HOUR]
    if baseline:
        return baseline + latest_delta
    log.warning("no baseline listed for %s; replaying the newest delta of every day instead", newest_day)
    days = sorted({a.day for a in assets})
    return [[a for a in assets if a.day == day][-1] for day in days]


def find_asset(fetcher: Fetcher, releases_url: str, name: str) -> ReleaseAsset | None:
    """The asset called ``name`` (with or without ``.zip``), searching back through the pages."""
    wanted = name.removesuffix(".zip")
    for page in _pages(fetcher, releases_url):
        for asset in _assets(page):
            if asset.name == wanted:
                return asset
    return None


def _pages(fetcher: Fetcher, url: str) -> Iterator[list[Any]]:
    next_url: str | None = url
    params: dict[str, Any] | None = {"per_page": 100}
    for _ in range(MAX_PAGES):
        if next_url is None:
            return
        body, response = fetcher.get_json(next_url, params)
        yield body if isinstance(body, list) else []
        next_url = response.links.get("next", {}).get("url")
        params = None  # the Link header's URL already carries them


def _assets(releases: list[Any]) -> Iterator[ReleaseAsset]:
    for release in releases:
        if not isinstance(release, dict):
            continue
        for asset in release.get("assets") or []:
            name = str(asset.get("name", ""))
            order = asset_order(name)
            if order is None:
                continue
            yield ReleaseAsset(
                name=name.removesuffix(".zip"),
                day=order[0],
                hour=order[1],
                url=str(asset.get("browser_download_url", "")),
                size=int(asset.get("size") or 0),
                published_at=str(release.get("published_at") or ""),
                tag=str(release.get("tag_name") or ""),
            )
