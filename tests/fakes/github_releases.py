"""A fake of the GitHub releases API of CVEProject/cvelistV5, serving real release zips.

``GET /repos/CVEProject/cvelistV5/releases?per_page=&page=`` answers release JSON (newest
first, ``Link: <…>; rel="next"`` paging, ``x-ratelimit-*`` headers); an asset's
``browser_download_url`` redirects (302) to ``/objects/<name>`` like GitHub's CDN does.
Usage::

    fake = FakeGitHubReleases(tmp_path).start()
    fake.add_baseline("2024-01-16", records)              # the day's all_CVEs_at_midnight zip
    fake.add_release("2024-01-16", 12, changed_records)   # a release: baseline + delta at 1200Z
    fake.releases_url                                     # what the feed's --source-url takes
    fake.faults.fail("api", 429, times=3, headers={"Retry-After": "1"}); fake.faults.truncate("download")
    fake.stop()
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.cvelist_layout import Record, baseline_zip, delta_zip
from tests.fakes.server import FakeServer, Request, Response

RELEASES_PATH = "/repos/CVEProject/cvelistV5/releases"


@dataclass(frozen=True)
class Release:
    tag: str
    published_at: str
    assets: tuple[Path, ...]


class FakeGitHubReleases(FakeServer):
    def __init__(self, workdir: Path, token: str | None = None) -> None:
        super().__init__()
        self.workdir = workdir
        self.token = token
        self.releases: list[Release] = []  # oldest first
        self.contents: dict[str, list[str]] = {}  # asset name (no .zip) -> CVE ids inside
        self._baselines: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._budget: int | None = None
        self._reset_at = 0.0

    @property
    def releases_url(self) -> str:
        return self.base_url + RELEASES_PATH

    def add_baseline(self, day: str, records: Iterable[Record], nested: bool = True) -> str:
        """Build the day's baseline zip; it is attached to every later release of that day."""
        name = f"{day}_all_CVEs_at_midnight"
        path = self.workdir / f"{name}.zip"
        self.contents[name] = baseline_zip(path, records, nested)
        self._baselines[day] = path
        self._publish(f"cve_{day}_0000Z", f"{day}T00:05:00Z", [path])
        return name

    def add_release(
        self, day: str, hour: int, records: Iterable[Record], announce_extra: Iterable[str] = ()
    ) -> str:
        """Publish the hourly release of ``day``/``hour``: the day's baseline and a delta zip."""
        name = f"{day}_delta_CVEs_at_{hour:02d}00Z"
        path = self.workdir / f"{name}.zip"
        stamp = f"{day}T{hour:02d}:00:00Z"
        self.contents[name] = delta_zip(path, records, stamp, announce_extra)
        baseline = [self._baselines[day]] if day in self._baselines else []
        self._publish(f"cve_{day}_{hour:02d}00Z", f"{day}T{hour:02d}:05:00Z", [*baseline, path])
        return name

    def rate_limit(self, budget: int, reset_after: float) -> None:
        """Allow ``budget`` more API calls, then answer 403 until ``reset_after`` seconds pass."""
        with self._lock:
            self._budget = budget
            self._reset_at = time.time() + reset_after

    def _publish(self, tag: str, published_at: str, assets: list[Path]) -> None:
        with self._lock:
            self.releases = [r for r in self.releases if r.tag != tag]
            self.releases.append(Release(tag, published_at, tuple(assets)))

    def target(self, request: Request) -> str:
        """Fault targets: ``api`` (release listing), ``redirect`` (asset URL), ``download`` (the bytes)."""
        if request.path.startswith("/repos/"):
            return "api"
        return "redirect" if request.path.startswith("/download/") else "download"

    def route(self, request: Request) -> Response:
        if request.path == RELEASES_PATH:
            return self._list(request)
        if request.path.startswith("/download/"):
            name = request.path.rsplit("/", 1)[-1]
            return Response(302, {"Location": f"{self.base_url}/objects/{name}"})
        if request.path.startswith("/objects/"):
            path = self.workdir / request.path.rsplit("/", 1)[-1]
            if path.is_file() and path.suffix == ".zip":
                return Response(200, {"Content-Type": "application/zip"}, file=path)
        return _json(404, {"message": "Not Found"})

    def _list(self, request: Request) -> Response:
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return _json(401, {"message": "Bad credentials"})
        limited, headers = self._spend()
        if limited:
            return _json(403, {"message": "API rate limit exceeded"}, headers)
        per_page = min(100, int(request.query.get("per_page", "30")))
        page = int(request.query.get("page", "1"))
        with self._lock:
            newest_first = list(reversed(self.releases))
        chunk = newest_first[(page - 1) * per_page : page * per_page]
        if page < math.ceil(len(newest_first) / per_page):
            headers["Link"] = f'<{self.releases_url}?per_page={per_page}&page={page + 1}>; rel="next"'
        return _json(200, [self._release_json(r) for r in chunk], headers)

    def _spend(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = time.time()
            if self._budget is not None and now >= self._reset_at:
                self._budget = None
            remaining = 5000 if self._budget is None else self._budget
            headers = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": str(max(remaining - 1, 0)),
                "x-ratelimit-reset": str(
                    math.ceil(self._reset_at if self._budget is not None else now + 3600)
                ),
            }
            if self._budget is not None:
                if self._budget == 0:
                    headers["x-ratelimit-remaining"] = "0"
                    return True, headers
                self._budget -= 1
            return False, headers

    def _release_json(self, release: Release) -> dict[str, Any]:
        return {
            "tag_name": release.tag,
            "name": f"CVE {release.tag.removeprefix('cve_')}",
            "published_at": release.published_at,
            "assets": [
                {
                    "name": path.name,
                    "size": path.stat().st_size,
                    "browser_download_url": f"{self.base_url}/download/{release.tag}/{path.name}",
                }
                for path in release.assets
            ],
        }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )
