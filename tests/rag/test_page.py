"""The web page answers a question in headless Chromium (Debian's ``chromium`` + ``chromedriver``).

The API runs in uvicorn on a free local port; selenium drives the browser through the
page's form, waits for the streamed answer to finish, and checks the answer and its linked
citations.  The screenshot is kept as ``artifacts/rag-page.png``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.served import serving
from tests.rag.conftest import Corpus
from tests.support.machine import lacks
from workloads.rag.api import create_app
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def served(corpus: Corpus) -> Iterator[str]:
    settings = corpus.settings()
    with serving(create_app(settings, RagService(settings, embedder=corpus.embedder))) as url:
        yield url


def test_page_answers_with_linked_citations(served: str, corpus: Corpus) -> None:
    if not (CHROMIUM and DRIVER):
        lacks("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    cve = next(iter(corpus.records))
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1000"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        browser.get(served + "/")
        browser.find_element(By.ID, "question").send_keys(f"What is {cve}?")
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, 120).until(lambda b: b.find_element(By.ID, "model").text)
        answer = browser.find_element(By.ID, "answer").text
        links = [
            (a.text, a.get_attribute("href")) for a in browser.find_elements(By.CSS_SELECTOR, "#citations a")
        ]
        ARTIFACTS.mkdir(exist_ok=True)
        time.sleep(0.2)
        browser.save_screenshot(str(ARTIFACTS / "rag-page.png"))
    finally:
        browser.quit()
    assert cve in answer and "Facts from the store" in answer
    assert links == [(cve, f"https://www.cve.org/CVERecord?id={cve}")]
