"""Building cvelistV5-shaped release zips from real records (the shared data set).

Layout as published: records at ``cves/<YEAR>/<N>xxx/CVE-<YEAR>-<N>.json``; the daily baseline
``YYYY-MM-DD_all_CVEs_at_midnight.zip`` nests a ``cves.zip`` holding the tree (``nested=False``
puts the files directly in the outer zip); hourly deltas ``YYYY-MM-DD_delta_CVEs_at_HH00Z.zip``
hold the changed records plus ``cves/delta.json`` listing them.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

Record = tuple[str, bytes]  # (CVE id, record bytes exactly as they will be published)


def record_path(cve_id: str) -> str:
    _, year, number = cve_id.split("-")
    return f"cves/{year}/{int(number) // 1000}xxx/{cve_id}.json"


def shared_records(path: Path, limit: int | None = None, skip: int = 0) -> Iterator[Record]:
    """``(id, line bytes)`` from a JSON-lines file such as ``cve-records.jsonl.gz``."""
    with gzip.open(path, "rb") as stream:
        for number, line in enumerate(stream):
            if number < skip:
                continue
            if limit is not None and number >= skip + limit:
                return
            line = line.rstrip(b"\n")
            yield json.loads(line)["cveMetadata"]["cveId"], line


def write_records(archive: zipfile.ZipFile, records: Iterable[Record]) -> list[str]:
    ids = []
    for cve_id, data in records:
        archive.writestr(record_path(cve_id), data)
        ids.append(cve_id)
    return ids


def baseline_zip(dest: Path, records: Iterable[Record], nested: bool = True) -> list[str]:
    """Write a baseline zip; returns the ids it contains."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as outer:
        if not nested:
            return write_records(outer, records)
        inner_path = dest.with_suffix(".inner.zip")
        with zipfile.ZipFile(inner_path, "w", zipfile.ZIP_DEFLATED) as inner:
            ids = write_records(inner, records)
        outer.write(inner_path, "cves.zip", compress_type=zipfile.ZIP_STORED)
    inner_path.unlink()
    return ids


def delta_json(new: list[str], updated: list[str], fetch_time: str) -> bytes:
    def entry(cve_id: str) -> dict[str, str]:
        return {
            "cveId": cve_id,
            "cveOrgLink": f"https://www.cve.org/CVERecord?id={cve_id}",
            "dateUpdated": fetch_time,
        }

    body = {
        "fetchTime": fetch_time,
        "numberOfChanges": len(new) + len(updated),
        "new": [entry(i) for i in new],
        "updated": [entry(i) for i in updated],
        "error": [],
    }
    return json.dumps(body, indent=2).encode()


def delta_zip(
    dest: Path, records: Iterable[Record], fetch_time: str, announce_extra: Iterable[str] = ()
) -> list[str]:
    """Write a delta zip whose ``delta.json`` lists its records (plus ``announce_extra``)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        ids = write_records(archive, records)
        archive.writestr("cves/delta.json", delta_json([], [*ids, *announce_extra], fetch_time))
    return ids
