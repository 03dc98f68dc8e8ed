"""The web page's CVE history in headless Chromium: the timeline of versions with what changed,
the assessments by source, and a question asked "as of" a version's date.

The store is the test's own: the five real versions of CVE-2024-0953 from the shared history
file (committed with their commit dates as observed-at), NVD's item for it as enrichment, and a
few records of the shared file, indexed with the real MiniLM.  Debian's ``chromium`` +
``chromedriver`` drive the page; the screenshot is kept as ``artifacts/rag-page-history.png``.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.provenance import cve5_records, nvd_items
from devstack import scratch
from devstack.corpus import sample
from devstack.served import serving
from tests.store.helpers import contract_message
from tests.support.machine import lacks
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.settings import IndexSettings
from workloads.index.sync import IndexSync
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.rag.settings import RagSettings
from workloads.store import StoreReader, StoreTarget
from workloads.store.messages import RawMessage, decode
from workloads.store.migrate import migrate
from workloads.store.writer import BatchWriter

pytestmark = [pytest.mark.postgres]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
CVE = "CVE-2024-0953"
ASSESSED = "CVE-2015-10129"  # NVD assessed it itself, and disagrees with the CNA (VulDB)


def _messages(shared: Path) -> list[Any]:
    with gzip.open(shared / "cve-history.jsonl.gz", "rt") as lines:
        versions = [row for row in map(json.loads, lines) if row["cve_id"] == CVE]
    items = nvd_items(shared)
    versions.sort(key=lambda row: row["commit_date"])
    outgoing = [
        contract_message(json.dumps(v["record"]).encode(), observed_at=v["commit_date"]) for v in versions
    ]
    outgoing.extend(contract_message(json.dumps(d).encode()) for d in cve5_records({ASSESSED}, shared))
    outgoing.extend(contract_message(json.dumps(items[c]).encode()) for c in (CVE, ASSESSED))
    outgoing.extend(contract_message(json.dumps(d).encode()) for d in sample(shared, 6000))
    return [
        decode(RawMessage("records", 0, n, m.key, m.value, m.headers, None)) for n, m in enumerate(outgoing)
    ]


@pytest.fixture(scope="module")
def history_store(postgres: Any, shared_data: Path, rag_embedder: LocalEmbedder) -> Iterator[StoreTarget]:
    target = StoreTarget(postgres.dsn, scratch.unique("page"))
    migrate(target)
    writer = BatchWriter(target, "page-tests")
    writer.apply(_messages(shared_data), lambda rejected: pytest.fail(f"dead letters: {rejected}"))
    writer.close()
    backend = PgVectorBackend(PgVectorConfig(dsn=target.dsn, schema=target.schema))
    sync = IndexSync(target, f"pgvector:{target.schema}.cve_embeddings", rag_embedder, backend)
    assert sync.run_once().complete
    sync.close()
    backend.close()
    yield target
    scratch.drop_schema(postgres.dsn, target.schema)


@pytest.fixture
def served(history_store: StoreTarget, rag_embedder: LocalEmbedder) -> Iterator[str]:
    index = IndexSettings.for_store(history_store, table="cve_embeddings")
    settings = RagSettings.for_index(index, rate_limit_per_minute=0)
    with serving(create_app(settings, RagService(settings, embedder=rag_embedder))) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        lacks("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    yield driver
    driver.quit()


def test_page_shows_the_timeline_and_asks_as_of_a_version(
    served: str, history_store: StoreTarget, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with StoreReader(history_store) as reader:
        stored = reader.history(CVE)
    assert len(stored) == 5 and {v.kind for v in stored} == {"cve5"}, (
        "the NVD item enriched, it did not version"
    )
    browser.get(served + "/")
    browser.find_element(By.ID, "history-id").send_keys(CVE.lower())
    browser.find_element(By.ID, "history-show").click()
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: "version(s)" in b.find_element(By.ID, "history-status").text)
    items = browser.find_elements(By.CSS_SELECTOR, "#timeline li.version")
    assert [i.get_attribute("data-version") for i in items] == [str(v.version) for v in stored]
    for item, version in zip(items[1:], stored[1:], strict=True):
        assert f"{CVE}@v{version.version} {version.valid_from.date()}" in item.text
        assert "changed: " + ", ".join(version.changes) in item.text
    first_change = items[1].find_element(By.TAG_NAME, "summary")
    first_change.click()
    assert items[1].find_elements(By.CSS_SELECTOR, "details li"), "the field changes are listed"
    browser.find_element(By.ID, "history-id").clear()
    browser.find_element(By.ID, "history-id").send_keys(ASSESSED)
    browser.find_element(By.ID, "history-show").click()
    wait.until(lambda b: f"version(s) of {ASSESSED}" in b.find_element(By.ID, "history-status").text)
    rows = [
        [td.text for td in r.find_elements(By.TAG_NAME, "td")]
        for r in browser.find_elements(By.CSS_SELECTOR, "#assessments tr.assessment")
    ]
    v31 = [(who.split(" ")[0], value) for kind, who, value, *_ in rows if kind == "cvss_v31"]
    assert v31 == [
        ("CNA", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"),
        ("NVD", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"),
    ], "both assessors, the CNA first; NVD's relay of the CNA's vector left out"
    browser.find_element(By.ID, "history-id").clear()
    browser.find_element(By.ID, "history-id").send_keys(CVE)
    browser.find_element(By.ID, "history-show").click()
    wait.until(lambda b: f"version(s) of {CVE}" in b.find_element(By.ID, "history-status").text)

    before = (stored[0].valid_from.date() - timedelta(days=1)).isoformat()
    browser.execute_script("document.getElementById('asof').value = arguments[0]", before)
    browser.find_element(By.ID, "question").send_keys(f"What is {CVE}?")
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda b: b.find_element(By.ID, "model").text)
    early = browser.find_element(By.ID, "answer").text
    assert CVE in early and (f"as of {before}" in early or f"on {before}" in early), early

    items = browser.find_elements(By.CSS_SELECTOR, "#timeline li.version")
    items[-1].find_element(By.CSS_SELECTOR, "button.asof").click()  # sets as-of and asks again
    wait.until(
        lambda b: b.find_element(By.ID, "asof").get_attribute("value") == str(stored[-1].valid_from.date())
    )
    wait.until(
        lambda b: (
            b.find_element(By.ID, "model").text
            and "Facts from the store" in b.find_element(By.ID, "answer").text
        )
    )
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "rag-page-history.png"))
    assert (
        date.fromisoformat(browser.find_element(By.ID, "asof").get_attribute("value"))
        == stored[-1].valid_from.date()
    )


def test_api_answers_with_every_assessment_labelled(served: str) -> None:
    import httpx

    record = httpx.get(f"{served}/v1/cves/{ASSESSED}", timeout=60).json()
    v31 = [(a["source"], a["origin"], a["score"]) for a in record["assessments"] if a["kind"] == "cvss_v31"]
    assert v31 == [("CNA", "cve5", 3.7), ("NVD", "nvd", 5.9)]
    assert record["cvss_v31_score"] == 3.7, "the record's own columns still hold the CNA's score"
    answer = httpx.post(
        f"{served}/v1/ask", json={"question": f"What is the NVD CVSS score of {ASSESSED}?"}, timeout=120
    ).json()["answer"]
    assert (
        "CVSS 3.1 by source: CNA VulDB: 3.7 LOW CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N (2024-02-04); "
        "NVD: 5.9 MEDIUM CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N (2024-02-12)"
    ) in answer
