"""What sources hand to the pipeline: raw records, faults and the resumable cursor.

Sources never parse records: the bytes travel to Kafka exactly as read, and validation is
one place (:mod:`workloads.feed.validate`) for every source.  A source that cannot read part
of its input yields a :class:`SourceFault` instead of raising, so the records before the
damage still go through and the damage itself lands in the dead-letter topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

# ASCII digits and the true end of the name, as workloads.common.records.CVE_ID
CVE_FILENAME = re.compile(r"(?:^|/)(CVE-[0-9]{4}-[0-9]{4,})\.json\Z")


class SourceKind(StrEnum):
    CVELIST = "cvelistV5"
    NVD = "nvd"
    FILE = "file"


class SourceUnavailable(RuntimeError):
    """The source could not be reached or read after all retries; the Job should be retried."""


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~2 µs per record
class RawRecord:
    """One record's bytes as read, and the release/location it came from."""

    data: bytes
    origin: str
    release: str
    filename_id: str | None = None


@dataclass(frozen=True, slots=True)
class SourceFault:
    """Input the source could not read (e.g. a truncated gzip); ``data`` is what survived."""

    origin: str
    release: str
    detail: str
    data: bytes = b""


Item = RawRecord | SourceFault


class Source(Protocol):
    """Yields raw records lazily; ``cursor`` tells the operator where the next run resumes."""

    kind: SourceKind

    def items(self) -> Iterator[Item]: ...

    def total(self) -> int | None:
        """How many records this run will yield, once known (for the ETA)."""
        ...

    def cursor(self) -> dict[str, Any]: ...

    def notes(self) -> dict[str, Any]:
        """Extra facts for the run summary (e.g. records a delta announced but lacked)."""
        ...


def filename_id(path: str) -> str | None:
    """The CVE id a file name claims (``cves/2024/39xxx/CVE-2024-39875.json``), if any."""
    match = CVE_FILENAME.search(path)
    return match.group(1) if match else None
