"""Reading cvelistV5-layout zips one member at a time.

Release zips are large (the daily baseline is hundreds of MB), so records are read member by
member from a file on disk, never the whole archive at once.  The real baseline zip nests a
``cves.zip`` inside; it is copied to a temporary file and read the same way.  ``delta.json``
is not a record, but it says which CVEs the release announces: the reader compares that list
with what it found, so a release that silently lacks announced records is reported.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from workloads.feed.fetch import BadDownload
from workloads.feed.model import Item, RawRecord, SourceFault, filename_id

NOT_RECORDS = frozenset({"delta.json", "deltaLog.json"})
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


class ZipRecords:
    """The records of one zip (nested zips included), with what ``delta.json`` announced."""

    def __init__(self, path: Path, release: str) -> None:
        self.path = path
        self.release = release
        self.total: int | None = None
        self.announced: set[str] = set()
        self.seen: set[str] = set()

    def missing(self) -> list[str]:
        """Ids ``delta.json`` announced that the archive does not contain."""
        return sorted(self.announced - self.seen)

    def __iter__(self) -> Iterator[Item]:
        try:
            yield from self._read(self.path, prefix="")
        except _READ_ERRORS as exc:
            yield SourceFault(self.path.name, self.release, f"cannot read zip {self.path.name}: {exc}")

    def _read(self, path: Path, prefix: str) -> Iterator[Item]:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            self._count(members)
            for info in members:
                name = info.filename
                base = posixpath.basename(name)
                if name.endswith(".zip"):
                    yield from self._nested(archive, info, prefix + name + "!")
                elif base in NOT_RECORDS:
                    self._note_delta(archive, info, base)
                elif base.endswith(".json"):
                    yield self._member(archive, info, prefix + name)

    def _member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str) -> Item:
        try:
            data = archive.read(info)
        except _READ_ERRORS as exc:
            return SourceFault(origin, self.release, f"cannot read {origin} from the zip: {exc}")
        claimed = filename_id(info.filename)
        if claimed is not None:
            self.seen.add(claimed)
        return RawRecord(data, origin, self.release, claimed)

    def _nested(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str) -> Iterator[Item]:
        with tempfile.TemporaryDirectory(prefix="cverag-nested-") as tmp:
            inner = Path(tmp) / "inner.zip"
            with archive.open(info) as src, inner.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            yield from self._read(inner, prefix)

    def _count(self, members: list[zipfile.ZipInfo]) -> None:
        records = sum(1 for m in members if m.filename.endswith(".json") and _is_record(m.filename))
        nested = any(m.filename.endswith(".zip") for m in members)
        if records or not nested:
            self.total = (self.total or 0) + records

    def _note_delta(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, base: str) -> None:
        if base != "delta.json":
            return
        try:
            delta = orjson.loads(archive.read(info))
        except (*_READ_ERRORS, orjson.JSONDecodeError):
            return
        for change in ("new", "updated"):
            for entry in delta.get(change, []) if isinstance(delta, dict) else []:
                if isinstance(entry, dict) and isinstance(entry.get("cveId"), str):
                    self.announced.add(entry["cveId"])


def _is_record(name: str) -> bool:
    return posixpath.basename(name) not in NOT_RECORDS


def verify_zip(path: Path, expected_size: int | None = None) -> None:
    """Raise :class:`BadDownload` unless ``path`` is a complete, readable zip."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise BadDownload(f"{path.name} is {size:,} bytes, expected {expected_size:,} (truncated download)")
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except zipfile.BadZipFile as exc:
        raise BadDownload(f"{path.name} is not a readable zip ({size:,} bytes): {exc}") from exc
