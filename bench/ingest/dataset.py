"""The benchmark's data: the shared real records, renumbered up to the live feed's size.

The shared file holds 62,928 records; the live cvelistV5 feed holds about 300,000.  Copy
``k`` (k = 1, 2, ...) of the file renames every ``CVE-Y-N`` in a record's text to
``CVE-Y-(k*10,000,000 + N)`` (8-digit numbers, unused by real CVEs), so each copy is a
distinct set of CVEs with real content and real sizes.  The result is written once as
JSON lines under ``~/.cache/cverag/bench-ingest-*`` and reused by later runs.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

_ID = re.compile(rb"CVE-(\d{4})-(\d{4,})(?!\d)")


def renumber(line: bytes, copy: int) -> bytes:
    if copy == 0:
        return line
    return _ID.sub(lambda m: b"CVE-%s-%d" % (m[1], copy * 10_000_000 + int(m[2])), line)


def build(source: Path, count: int, target: Path) -> tuple[Path, int]:
    """Write ``count`` records to ``target`` (skipped when it already holds them); returns
    the path and its size in bytes."""
    marker = target.with_suffix(".done")
    if marker.exists() and marker.read_text() == str(count) and target.exists():
        return target, target.stat().st_size
    with gzip.open(source) as stream:
        lines = [line.rstrip(b"\n") for line in stream if line.strip()]
    tmp = target.with_suffix(".tmp")
    written = 0
    with tmp.open("wb") as out:
        copy = 0
        while written < count:
            for line in lines[: count - written]:
                out.write(renumber(line, copy) + b"\n")
            written += min(len(lines), count - (written))
            copy += 1
    tmp.replace(target)
    marker.write_text(str(count))
    return target, target.stat().st_size
