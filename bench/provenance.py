"""How often the CNA's CWE and CVSS 3.1 vector agree with NVD's own analysis.

``python -m bench.provenance`` pairs the 653 NVD items of ``nvd-items-sample.jsonl.gz`` with
their CVE 5 records in ``cve-records.jsonl.gz`` (the shared data), extracts every assessment
with :mod:`workloads.store.assessments` (the store's own extractor) and counts, per CVE:

* CWE: NVD has one; the CNA has one; the CNA's set equals NVD's; they share at least one;
* CVSS 3.1: NVD has a vector; the CNA has one; the vectors are equal; the base scores are.

"NVD" is the ``nvd@nist.gov`` assessment only (not what NVD relays of the CNA).  The CISA-ADP
container is measured the same way, since it fills in for CNAs that give no CVSS or CWE.
"""

from __future__ import annotations

import gzip
import json
import sys
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


def main() -> int:
    found = pairs()
    for source in ("CNA", "CISA-ADP"):
        print(report(agreement(found, source), source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
