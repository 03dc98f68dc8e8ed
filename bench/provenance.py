"""How often the CNA's CWE and CVSS 3.1 vector agree with NVD's own analysis.

``python -m bench.provenance`` pairs the 653 NVD items of ``nvd-items-sample.jsonl.gz`` with
their CVE 5 records in ``cve-records.jsonl.gz`` (the shared data), extracts every assessment
with :mod:`workloads.store.assessments` (the store's own extractor) and counts, per CVE:

* CWE: NVD has one; the CNA has one; the CNA's set equals NVD's; they share at least one;
* CVSS 3.1: NVD has a vector; the CNA has one; the vectors are equal; the base scores are.

``python -m bench.provenance --ingest 3000`` measures what keeping assessments costs the ingest
path: the same records decoded and applied (in process, one writer connection, batches of 1000)
(every n-th of the shared records, so all years) into two fresh schemas, with assessments and with their extraction and writing switched off.

"NVD" is the ``nvd@nist.gov`` assessment only (not what NVD relays of the CNA).  The CISA-ADP
container is measured the same way, since it fills in for CNAs that give no CVSS or CWE.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workloads.common.records import cve_id
from workloads.store.assessments import Assessment, from_cve5, from_nvd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def nvd_items(data: Path = SHARED) -> dict[str, dict[str, Any]]:
    with gzip.open(data / "nvd-items-sample.jsonl.gz", "rt") as lines:
        items = (json.loads(line) for line in lines)
        return {str(item["cve"]["id"]): item for item in items}


def cve5_records(ids: set[str], data: Path = SHARED) -> Iterator[dict[str, Any]]:
    """The CVE 5 records of ``ids``, read with a substring test before parsing (62,928 lines)."""
    with gzip.open(data / "cve-records.jsonl.gz", "rt") as lines:
        for line in lines:
            start = line.find('"cveId":')
            found = line[start + 8 : start + 40].strip(' "').split('"')[0] if start >= 0 else ""
            if found in ids:
                doc = json.loads(line)
                if cve_id(doc) in ids:
                    yield doc


def pairs(data: Path = SHARED) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(cve5 record, nvd item)`` for every sampled CVE found in both files."""
    items = nvd_items(data)
    return [(doc, items[str(cve_id(doc))]) for doc in cve5_records(set(items), data)]


def record_assessments(doc: dict[str, Any]) -> list[Assessment]:
    containers = doc.get("containers") or {}
    return from_cve5(containers.get("cna") or {}, list(containers.get("adp") or []))


def _of(found: list[Assessment], source: str, kind: str) -> list[Assessment]:
    return [a for a in found if a.source == source and a.kind == kind]


def agreement(pairs_: list[tuple[dict[str, Any], dict[str, Any]]], source: str = "CNA") -> dict[str, int]:
    cwe = ("nvd_cwe", "src_cwe", "cwe_both", "cwe_equal", "cwe_overlap")
    v31 = ("nvd_v31", "src_v31", "v31_both", "v31_vector_equal", "v31_score_equal")
    counts = dict.fromkeys(("cves", *cwe, *v31), 0)
    for doc, item in pairs_:
        mine, nvd = record_assessments(doc), from_nvd(item["cve"])
        counts["cves"] += 1
        src_cwe = {a.value for a in _of(mine, source, "cwe")}
        nvd_cwe = {a.value for a in _of(nvd, "NVD", "cwe")}
        counts["nvd_cwe"] += bool(nvd_cwe)
        counts["src_cwe"] += bool(src_cwe)
        if src_cwe and nvd_cwe:
            counts["cwe_both"] += 1
            counts["cwe_equal"] += src_cwe == nvd_cwe
            counts["cwe_overlap"] += bool(src_cwe & nvd_cwe)
        src_v31, nvd_v31 = _of(mine, source, "cvss_v31"), _of(nvd, "NVD", "cvss_v31")
        counts["nvd_v31"] += bool(nvd_v31)
        counts["src_v31"] += bool(src_v31)
        if src_v31 and nvd_v31:
            counts["v31_both"] += 1
            counts["v31_vector_equal"] += src_v31[0].value == nvd_v31[0].value
            counts["v31_score_equal"] += src_v31[0].score == nvd_v31[0].score
    return counts


def report(counts: dict[str, int], source: str) -> str:
    def pct(part: str, whole: str) -> str:
        return f"{counts[part]}/{counts[whole]} ({100 * counts[part] / max(1, counts[whole]):.0f}%)"

    return "\n".join(
        [
            f"{source} vs NVD on {counts['cves']} CVEs",
            f"  CWE: NVD gives one for {counts['nvd_cwe']}, {source} for {counts['src_cwe']}; both for "
            f"{counts['cwe_both']}: same set {pct('cwe_equal', 'cwe_both')}, overlap {pct('cwe_overlap', 'cwe_both')}",
            f"  CVSS 3.1: NVD vector for {counts['nvd_v31']}, {source} for {counts['src_v31']}; both for "
            f"{counts['v31_both']}: same vector {pct('v31_vector_equal', 'v31_both')}, "
            f"same base score {pct('v31_score_equal', 'v31_both')}",
        ]
    )


def _ingest_seconds(dsn: str, lines: list[bytes], with_assessments: bool) -> float:
    from unittest import mock

    from devstack.scratch import drop_schema, unique
    from workloads.common.records import content_hash
    from workloads.store import assessments_writer, normalise
    from workloads.store.db import StoreTarget
    from workloads.store.messages import RawMessage, decode
    from workloads.store.migrate import migrate
    from workloads.store.writer import BatchWriter

    target = StoreTarget(dsn, unique("bench_prov"))
    migrate(target)
    patches: list[Any] = [] if with_assessments else [
        mock.patch.object(normalise, "from_cve5", lambda cna, adp: []),
        mock.patch.object(assessments_writer, "write", lambda *args: None),
    ]  # fmt: skip
    try:
        for patch in patches:
            patch.start()
        writer = BatchWriter(target, "bench")
        started = time.perf_counter()
        for first in range(0, len(lines), 1000):
            batch = []
            for offset, line in enumerate(lines[first : first + 1000], start=first):
                doc = json.loads(line)
                headers = {"cverag-sha256": content_hash(doc), "cverag-kind": "cve5"}
                raw = RawMessage("bench", 0, offset, str(cve_id(doc)).encode(), line, headers, None)
                batch.append(decode(raw))
            writer.apply(batch, lambda rejected: None)
        elapsed = time.perf_counter() - started
        writer.close()
    finally:
        for patch in patches:
            patch.stop()
        drop_schema(dsn, target.schema)
    return elapsed


def ingest(count: int) -> None:
    from devstack import postgres

    dsn = postgres.ensure_running()[0].dsn
    with gzip.open(SHARED / "cve-records.jsonl.gz") as stream:
        every = max(1, 62928 // count)  # spread over all years: old records carry few assessments
        lines = [line.rstrip(b"\n") for n, line in enumerate(stream) if n % every == 0][:count]
    rounds: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(3):
        for flag in (False, True):
            rounds[flag].append(_ingest_seconds(dsn, lines, flag))
    best = {flag: min(times) for flag, times in rounds.items()}
    print(f"ingest of {count} records (decode + apply, best of 3): without assessments {best[False]:.2f} s, "
          f"with {best[True]:.2f} s, ratio {best[True] / best[False]:.2f}x; load average {os.getloadavg()}")  # fmt: skip


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--ingest":
        ingest(int(sys.argv[2]))
        return 0
    found = pairs()
    for source in ("CNA", "CISA-ADP"):
        print(report(agreement(found, source), source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
