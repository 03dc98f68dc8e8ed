"""The cvelistV5 source: download each planned release asset and read its records."""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from workloads.feed.archive import ZipRecords, verify_zip
from workloads.feed.cvelist import ReleaseAsset, find_asset, plan, releases_since
from workloads.feed.fetch import Fetcher
from workloads.feed.model import Item, SourceKind, SourceUnavailable

log = logging.getLogger(__name__)


class CvelistSource:
    """Syncs one named release, or the plan from ``cursor`` to the newest release."""

    kind = SourceKind.CVELIST

    def __init__(
        self, fetcher: Fetcher, releases_url: str, release: str | None, since: Mapping[str, Any] | None
    ) -> None:
        self._fetcher = fetcher
        self._url = releases_url
        self._release = release
        self._since = dict(since or {})
        self._cursor = dict(self._since)
        self._finished_records = 0
        self._current: ZipRecords | None = None
        self._missing: dict[str, list[str]] = {}

    def assets(self) -> list[ReleaseAsset]:
        if self._release:
            asset = find_asset(self._fetcher, self._url, self._release)
            if asset is None:
                raise SourceUnavailable(f"release {self._release} is not among the assets at {self._url}")
            return [asset]
        return plan(releases_since(self._fetcher, self._url, self._since or None), self._since or None)

    def items(self) -> Iterator[Item]:
        for asset in self.assets():
            with tempfile.TemporaryDirectory(prefix="cverag-release-") as tmp:
                path = Path(tmp) / f"{asset.name}.zip"
                log.info("downloading %s (%s bytes)", asset.name, f"{asset.size:,}")
                self._fetcher.download(
                    asset.url, path, functools.partial(verify_zip, expected_size=asset.size or None)
                )
                self._current = ZipRecords(path, asset.name)
                yield from self._current
                self._finish(asset, self._current)

    def _finish(self, asset: ReleaseAsset, reader: ZipRecords) -> None:
        missing = reader.missing()
        if missing:
            log.warning("%s announces %d CVEs its zip lacks, e.g. %s", asset.name, len(missing), missing[:5])
            self._missing[asset.name] = missing
        self._cursor = {"release": asset.name, "published_at": asset.published_at}
        self._finished_records += reader.total or 0
        self._current = None

    def total(self) -> int | None:
        if self._current is None or self._current.total is None:
            return None
        return self._finished_records + self._current.total

    def cursor(self) -> dict[str, Any]:
        return dict(self._cursor)

    def notes(self) -> dict[str, Any]:
        return {"missing_announced": self._missing} if self._missing else {}
