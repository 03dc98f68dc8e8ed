"""NVD items as enrichment of CVE 5 records in a real store (PostgreSQL, the batch writer): both
arrival orders, re-sent and updated items, versions that never flip format, the RAG reader."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from bench.provenance import pairs
from tests.store.helpers import contract_message
from workloads.rag.prompt import fact_lines
from workloads.rag.records import RecordReader
from workloads.store import StoreReader, StoreTarget
from workloads.store.db import connect
from workloads.store.messages import Incoming, RawMessage, Rejected, decode
from workloads.store.writer import BatchWriter

pytestmark = [pytest.mark.postgres]
Pair = tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> list[Pair]:
    """Twelve real CVEs that NVD assessed itself (a Primary nvd@nist.gov CVSS 3.1 metric)."""
    chosen = [
        (doc, item)
        for doc, item in pairs(shared_data)
        if any(m["source"] == "nvd@nist.gov" for m in item["cve"].get("metrics", {}).get("cvssMetricV31", []))
    ]
    return chosen[:12]


class Feed:
    """Messages at increasing offsets of one partition, as the feed would publish them."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self, *docs: dict[str, Any]) -> list[Incoming | Rejected]:
        out = []
        for doc in docs:
            msg = contract_message(json.dumps(doc).encode())
            out.append(decode(RawMessage("records", 0, self.offset, msg.key, msg.value, msg.headers, None)))
            self.offset += 1
        return out


def no_letters(rejected: list[Rejected]) -> None:
    raise AssertionError(f"unexpected dead letters: {rejected}")


def kinds(store: StoreTarget, cve_id: str) -> list[str]:
    with StoreReader(store) as reader:
        return [v.kind for v in reader.history(cve_id)]


def assessed(store: StoreTarget) -> list[tuple[Any, ...]]:
    with connect(store) as conn:
        return conn.execute(
            "SELECT cve_id, origin, source, provider, kind, value, score::float8, severity, recorded_at"
            " FROM assessments ORDER BY 1, 2, 3, 4, 5, 6"
        ).fetchall()


def updated(item: dict[str, Any]) -> dict[str, Any]:
    """The same NVD item after a reanalysis: NVD's own CVSS 3.1 vector changed."""
    newer = copy.deepcopy(item)
    newer["cve"]["lastModified"] = "2026-12-01T00:00:00.000"
    for metric in newer["cve"]["metrics"]["cvssMetricV31"]:
        if metric["source"] == "nvd@nist.gov":
            metric["cvssData"]["vectorString"] = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
            metric["cvssData"]["baseScore"] = 9.8
    return newer


def test_nvd_items_enrich_records_in_either_order(postgres: Any, sample: list[Pair]) -> None:
    from devstack.scratch import drop_schema, unique
    from workloads.store.migrate import migrate

    stores = [StoreTarget(postgres.dsn, unique("store")) for _ in range(2)]
    try:
        for target in stores:
            migrate(target)
        record_first, item_first = stores
        feed_a, feed_b = Feed(), Feed()
        BatchWriter(record_first, "g").apply(
            feed_a(*(d for d, _ in sample)) + feed_a(*(i for _, i in sample)), no_letters
        )
        writer = BatchWriter(item_first, "g")
        writer.apply(feed_b(*(i for _, i in sample)), no_letters)
        writer.apply(feed_b(*(d for d, _ in sample)), no_letters)
        assert assessed(record_first) == assessed(item_first), "the arrival order does not matter"
        sources = {(row[1], row[2]) for row in assessed(record_first)}
        assert {("cve5", "CNA"), ("nvd", "NVD")} <= sources
        cve = sample[0][0]["cveMetadata"]["cveId"]
        assert kinds(record_first, cve) == ["cve5"], "an NVD item of a held CVE 5 record is no version"
        assert kinds(item_first, cve) == ["nvd2", "cve5"], "the record replaces the NVD stand-in once"
        with connect(record_first) as conn:
            held = conn.execute(
                "SELECT count(*), count(DISTINCT kind) FROM cves WHERE kind = 'cve5'"
            ).fetchone()
            items = conn.execute("SELECT count(*) FROM nvd_items").fetchone()
        assert held == (len(sample), 1) and items == (len(sample),)
    finally:
        for target in stores:
            drop_schema(postgres.dsn, target.schema)


def test_mixed_feeds_never_flip_versions_between_formats(store: StoreTarget, sample: list[Pair]) -> None:
    feed, writer = Feed(), BatchWriter(store, "g")
    doc, item = sample[1]
    cve = doc["cveMetadata"]["cveId"]
    newer_doc = copy.deepcopy(doc)
    newer_doc["containers"]["cna"]["title"] = "retitled by the CNA"
    for batch in ([item], [doc, item], [updated(item)], [newer_doc, item], [item, updated(item)]):
        outcome = writer.apply(feed(*batch), no_letters)
        assert outcome.versions + outcome.unchanged == len(batch)
    assert kinds(store, cve) == ["nvd2", "cve5", "cve5"]
    nvd = [row for row in assessed(store) if row[1] == "nvd" and row[2] == "NVD" and row[4] == "cvss_v31"]
    assert [(r[5], r[6]) for r in nvd] == [("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)], (
        "the last item wins"
    )
    cve5 = {row[8] for row in assessed(store) if row[1] == "cve5"}
    assert len(cve5) >= 1
    with connect(store) as conn:
        version = conn.execute("SELECT DISTINCT version FROM assessments WHERE origin = 'cve5'").fetchall()
    assert version == [(3,)], "the CVE 5 rows are those of the current version"


def test_rag_facts_show_every_assessment_labelled(store: StoreTarget, sample: list[Pair]) -> None:
    feed = Feed()
    BatchWriter(store, "g").apply(feed(*(d for d, _ in sample)) + feed(*(i for _, i in sample)), no_letters)
    cve = sample[0][0]["cveMetadata"]["cveId"]
    with ConnectionPool(
        store.dsn, min_size=1, max_size=1, kwargs={"options": f"-c search_path={store.schema}"}
    ) as pool:
        facts, _ = RecordReader(pool).current([cve])[cve]
    assert [a["source"] for a in facts.assessments if a["kind"] == "cvss_v31"][-1] == "NVD"
    nvd = next(a for a in facts.assessments if a["source"] == "NVD" and a["kind"] == "cvss_v31")
    line = next(x for x in fact_lines(facts) if x.startswith("  CVSS 3.1 by source: "))
    assert f"NVD: {nvd['score']:.1f} {nvd['severity']} {nvd['value']}" in line
