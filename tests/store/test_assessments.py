"""Assessments with their provenance, extracted from real records: the CVE 5 records of the shared
data and NVD's own API 2.0 items for the same CVEs (``nvd-items-sample.jsonl.gz``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.provenance import agreement, pairs, record_assessments
from workloads.common.records import DocumentKind
from workloads.store.assessments import NVD_CVSS, from_nvd
from workloads.store.assessments_query import lines, ordered
from workloads.store.normalise import normalise

Pair = tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def real_pairs(shared_data: Path) -> list[Pair]:
    found = pairs(shared_data)
    assert len(found) == 653, "every sampled NVD item has its CVE 5 record in the shared records"
    return found


def _rows(found: list[Any], origin: str) -> list[dict[str, Any]]:
    return [
        {
            **{k: getattr(a, k) for k in ("source", "provider", "kind", "value", "score", "severity")},
            "origin": origin,
            "recorded_at": a.recorded_at.isoformat() if a.recorded_at else None,
        }
        for a in found
    ]


def test_every_nvd_metric_is_kept_with_its_source(real_pairs: list[Pair]) -> None:
    for _, item in real_pairs:
        cve = item["cve"]
        metrics = [m for key in NVD_CVSS for m in cve.get("metrics", {}).get(key, [])]
        found = [a for a in from_nvd(cve) if a.kind != "cwe"]
        assert len(found) == len(metrics), cve["id"]
        nvd_own = sum(m["source"] == "nvd@nist.gov" for m in metrics)
        assert sum(a.source == "NVD" for a in found) == nvd_own, cve["id"]


def test_normalisers_carry_assessments(real_pairs: list[Pair]) -> None:
    doc, item = next((d, i) for d, i in real_pairs if d["cveMetadata"]["cveId"] == "CVE-2015-10129")
    record = normalise(doc, DocumentKind.CVE_RECORD, "CVE-2015-10129")
    nvd = normalise(item, DocumentKind.NVD_ITEM, "CVE-2015-10129")
    cna = [a for a in record.assessments if a.source == "CNA" and a.kind == "cvss_v31"]
    own = [a for a in nvd.assessments if a.source == "NVD" and a.kind == "cvss_v31"]
    assert [(a.value, a.score) for a in cna] == [("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", 3.7)]
    assert [(a.value, a.score) for a in own] == [("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9)]
    assert cna[0].provider == "VulDB" and cna[0].recorded_at is not None
    assert record.cvss["v31"].vector == cna[0].value, "the cves columns keep the CNA's value"


def test_facts_lines_name_every_source_in_preference_order(real_pairs: list[Pair]) -> None:
    checked = 0
    for doc, item in real_pairs:
        rows = ordered(_rows(record_assessments(doc), "cve5") + _rows(from_nvd(item["cve"]), "nvd"))
        sources = [r["source"] for r in rows if r["kind"] == "cvss_v31"]
        direct = any(r["source"] == "CNA" and r["origin"] == "cve5" for r in rows if r["kind"] == "cvss_v31")
        if direct and "NVD" in sources:
            checked += 1
            assert sources.index("CNA") < sources.index("NVD")
            line = next(x for x in lines(rows) if x.startswith("CVSS 3.1 by source: "))
            assert line.index("CNA") < line.index("NVD: ")
            assert "CNA via NVD" not in line, "what NVD relays of the CNA is dropped beside the CNA's own"
    assert checked > 100


def test_nvd_only_assessments_keep_the_relayed_cna_value(real_pairs: list[Pair]) -> None:
    _, item = real_pairs[0]
    rows = ordered(_rows(from_nvd(item["cve"]), "nvd"))
    relayed = [r for r in rows if r["source"] != "NVD"]
    if not relayed:
        pytest.skip(f"{item['cve']['id']} relays no CNA metric")
    assert any(" via NVD " in line for line in lines(relayed)), (
        "a store fed from the NVD says where it came from"
    )


def test_agreement_counts_are_consistent(real_pairs: list[Pair]) -> None:
    counts = agreement(real_pairs)
    assert counts["cves"] == 653
    assert (
        counts["cwe_equal"]
        <= counts["cwe_overlap"]
        <= counts["cwe_both"]
        <= min(counts["nvd_cwe"], counts["src_cwe"])
    )
    assert counts["v31_vector_equal"] <= counts["v31_both"] <= min(counts["nvd_v31"], counts["src_v31"])
    assert counts["v31_vector_equal"] < counts["v31_both"], "the sample holds CNA vectors NVD disagrees with"
