"""The query API (get, search with filters, stats) against expectations computed from JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.scratch import create_topic, drop_schema, unique
from tests.store.conftest import settings
from tests.store.helpers import contract_message, produce, record_lines, store_cli
from workloads.store import StoreReader, StoreTarget, UnknownSnapshot
from workloads.store.consumer import StoreConsumer
from workloads.store.migrate import migrate

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]
SIZE = 4000


@pytest.fixture(scope="module")
def loaded(
    kafka: Any, postgres: Any, shared_data: Path
) -> Iterator[tuple[StoreReader, dict[str, Any], set[str]]]:
    lines = record_lines(shared_data, SIZE)
    topic = create_topic(kafka.bootstrap)
    produce(kafka.bootstrap, topic, (contract_message(line) for line in lines))
    target = StoreTarget(postgres.dsn, unique("query"))
    migrate(target)
    StoreConsumer(settings(kafka, topic), target).run()
    assert store_cli(postgres.dsn, target.schema, "load-kev", str(shared_data / "kev.json"))["_exit"] == 0
    assert (
        store_cli(
            postgres.dsn, target.schema, "load-epss", str(shared_data / "epss-scores-2026-08-16.csv.gz")
        )["_exit"]
        == 0
    )
    catalog = {v["cveID"] for v in json.loads((shared_data / "kev.json").read_text())["vulnerabilities"]}
    docs = {json.loads(line)["cveMetadata"]["cveId"]: json.loads(line) for line in lines}
    with StoreReader(target) as store:
        yield store, docs, catalog
    drop_schema(postgres.dsn, target.schema)


def everything(store: StoreReader, text: str | None = None, **filters: Any) -> list[Any]:
    """All hits, page by page (the API caps one page at 1000)."""
    hits: list[Any] = []
    while True:
        page = store.search(text, limit=500, offset=len(hits), **filters)
        hits += page
        if len(page) < 500:
            return hits


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc["containers"].get("cna", {}), *doc["containers"].get("adp", [])]


def vendors_of(doc: dict[str, Any]) -> set[str]:
    return {a["vendor"].lower() for c in containers(doc) for a in c.get("affected", []) if a.get("vendor")}


def test_get_returns_the_record(loaded: Any) -> None:
    store, docs, _ = loaded
    for cve in list(docs)[::400]:
        found = store.get(cve)
        assert found is not None and found.record == docs[cve] and found.version == 1
    assert store.get("CVE-1900-0001") is None
    assert store.get(cve, as_of=datetime.now(UTC)) == store.get(cve, as_of=datetime.now(UTC).isoformat())
    with pytest.raises(UnknownSnapshot):
        store.get(cve, as_of="no-such-snapshot")


def test_vendor_filter_matches_affected_vendors(loaded: Any) -> None:
    store, docs, _ = loaded
    counts: dict[str, int] = {}
    for doc in docs.values():
        for vendor in vendors_of(doc) - {"n/a"}:
            counts[vendor] = counts.get(vendor, 0) + 1
    vendor = max(counts, key=lambda v: counts[v])
    hits = everything(store, vendor=vendor.upper())
    assert len(hits) == len({h.cve_id for h in hits}) > 500, "pages neither overlap nor stop early"
    assert {h.cve_id for h in hits} == {c for c, d in docs.items() if vendor in vendors_of(d)}


def test_cwe_score_and_severity_filters(loaded: Any) -> None:
    store, docs, _ = loaded
    hits = everything(store, cwe="79")
    expected = {
        c for c, d in docs.items()
        if any(x.get("cweId") == "CWE-79" for k in containers(d) for p in k.get("problemTypes", [])
               for x in p.get("descriptions", []))
    }  # fmt: skip
    assert expected and {h.cve_id for h in hits} >= expected
    assert all("CWE-79" in h.cwe_ids for h in hits)
    strong = everything(store, min_score=9.0)
    assert strong and all(h.base_score is not None and h.base_score >= 9.0 for h in strong)
    critical = everything(store, min_severity="critical")
    assert critical and all(h.base_severity == "CRITICAL" for h in critical)
    high_or_more = everything(store, min_severity="HIGH")
    assert {h.cve_id for h in critical} < {h.cve_id for h in high_or_more}
    with pytest.raises(ValueError, match="unknown severity"):
        store.search(min_severity="catastrophic")


def test_kev_filter_uses_records_and_catalog(loaded: Any) -> None:
    store, docs, catalog = loaded
    in_records = {
        c for c, d in docs.items()
        if any(m.get("other", {}).get("type") == "kev" for a in d["containers"].get("adp", [])
               for m in a.get("metrics", []))
    }  # fmt: skip
    hits = everything(store, kev=True)
    assert {h.cve_id for h in hits} == in_records | (catalog & set(docs))
    assert all(h.kev_date_added is not None for h in hits)


def test_full_text_is_ranked_and_relevant(loaded: Any) -> None:
    store, _, _ = loaded
    hits = store.search("buffer overflow", limit=50)
    assert hits
    assert [h.rank for h in hits] == sorted((h.rank for h in hits), reverse=True)
    for hit in hits:
        text = f"{hit.title} {hit.description}".lower()
        assert "buffer" in text and "overflow" in text


def test_published_range_state_and_epss(loaded: Any) -> None:
    store, docs, _ = loaded
    start, end = datetime(2016, 1, 1, tzinfo=UTC), datetime(2017, 1, 1, tzinfo=UTC)
    hits = everything(store, published_from=start, published_to=end, state="published")
    expected = {
        c for c, d in docs.items()
        if d["cveMetadata"]["state"] == "PUBLISHED" and d["cveMetadata"].get("datePublished", "")[:4] == "2016"
    }  # fmt: skip
    assert {h.cve_id for h in hits} == expected
    assert any(h.epss is not None for h in hits)
    assert all(h.epss is None or 0.0 <= h.epss <= 1.0 for h in hits)


def test_stats(loaded: Any) -> None:
    store, docs, _ = loaded
    stats = store.stats()
    assert stats.cves == stats.versions == len(docs)
    assert sum(stats.records_by_state.values()) == len(docs)
    assert stats.last_ingest_at is not None and stats.schema_version >= 5
    assert set(stats.enrichment) == {"kev", "epss"}
