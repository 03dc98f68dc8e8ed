"""The file source: a cvelistV5-layout directory, a zip, or JSON lines (optionally gzipped).

For air-gapped installs, the demo and the tests.  The location may be a local path or an
http(s) URL (downloaded to a temporary file first).  JSON lines are read in chunks and split
by hand rather than with ``readline`` so that, when a gzip stream is truncated, every complete
line before the damage is still published and the incomplete tail is kept as the value of
the ``unreadable-source`` dead-letter entry.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from workloads.feed.archive import NOT_RECORDS, ZipRecords, verify_zip
from workloads.feed.fetch import Fetcher
from workloads.feed.model import Item, RawRecord, SourceFault, SourceKind, SourceUnavailable, filename_id

CHUNK = 1024 * 1024
_DAMAGE = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


class FileSource:
    kind = SourceKind.FILE

    def __init__(self, location: str, fetcher: Fetcher | None = None) -> None:
        self._location = location
        self._fetcher = fetcher
        name = posixpath.basename(urlparse(location).path.rstrip("/")) or location
        self.release = f"file:{name}"
        self._zip: ZipRecords | None = None

    def items(self) -> Iterator[Item]:
        if urlparse(self._location).scheme in ("http", "https"):
            with tempfile.TemporaryDirectory(prefix="cverag-file-") as tmp:
                yield from self._local(self._download(Path(tmp)))
        else:
            path = Path(self._location)
            if not path.exists():
                raise SourceUnavailable(f"{path} does not exist")
            yield from self._local(path)

    def _download(self, tmp: Path) -> Path:
        fetcher = self._fetcher or Fetcher()
        path = tmp / self.release.removeprefix("file:")
        fetcher.download(self._location, path, lambda p: verify_zip(p) if _is_zip(p) else None)
        return path

    def _local(self, path: Path) -> Iterator[Item]:
        if path.is_dir():
            yield from directory_records(path, self.release)
        elif _is_zip(path):
            self._zip = ZipRecords(path, self.release)
            yield from self._zip
        else:
            yield from json_lines(path, self.release)

    def total(self) -> int | None:
        return self._zip.total if self._zip else None

    def cursor(self) -> dict[str, Any]:
        return {"release": self.release}

    def notes(self) -> dict[str, Any]:
        return {}


def _is_zip(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(4) == b"PK\x03\x04"


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(2) == b"\x1f\x8b"


def directory_records(root: Path, release: str) -> Iterator[Item]:
    """Every ``*.json`` record below ``root`` in a stable order (delta files skipped)."""
    for folder, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            if not name.endswith(".json") or name in NOT_RECORDS:
                continue
            path = Path(folder, name)
            origin = path.relative_to(root).as_posix()
            try:
                data = path.read_bytes()
            except OSError as exc:
                yield SourceFault(origin, release, f"cannot read {origin}: {exc}")
                continue
            yield RawRecord(data, origin, release, filename_id(origin))


def json_lines(path: Path, release: str) -> Iterator[Item]:
    """One record per line; a damaged (e.g. truncated gzip) file ends in a :class:`SourceFault`."""
    line = 0
    tail = b""
    try:
        with gzip.open(path, "rb") if _is_gzip(path) else path.open("rb") as stream:
            while chunk := stream.read1(CHUNK):
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for text in lines:
                    line += 1
                    if text.strip():
                        yield RawRecord(text, f"{path.name}:{line}", release)
    except _DAMAGE as exc:
        detail = f"{path.name} is unreadable after line {line} ({exc}); the partial line follows as value"
        yield SourceFault(f"{path.name}:{line + 1}", release, detail, tail)
        return
    if tail.strip():
        yield RawRecord(tail, f"{path.name}:{line + 1}", release)
