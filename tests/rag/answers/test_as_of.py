"""``as_of`` on /v1/search and /v1/ask: the store as it was then; bad times are 422 problems."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.rag.answers.conftest import HistoryStore, when

pytestmark = [pytest.mark.postgres]


def test_search_as_of_keeps_only_what_the_store_held_then(history_store: HistoryStore) -> None:
    query = {"query": "Progress Telerik Report Server deserialization", "top_k": 10}
    with history_store.client() as client:
        now = client.post("/v1/search", json=query).json()["results"]
        then = client.post("/v1/search", json={**query, "as_of": "2024-06-05"}).json()["results"]
        before = client.post("/v1/search", json={**query, "as_of": "2020-01-01"}).json()["results"]
        kev_then = client.post(
            "/v1/search", json={**query, "as_of": "2024-06-05", "filters": {"kev": True}}
        ).json()["results"]
    first_seen: dict[str, Any] = {}
    for row in history_store.rows:
        first_seen.setdefault(row["cve_id"], when(row["commit_date"]))
    cutoff = when("2024-06-05T23:59:59.999999Z")
    assert now and before == []  # nothing in this store was observed before 2024
    assert then and all(first_seen.get(r["cve_id"], cutoff) <= cutoff for r in then)
    assert {r["cve_id"] for r in then} < {r["cve_id"] for r in now} | {r["cve_id"] for r in then}
    telerik_now = next(r for r in now if r["cve_id"] == "CVE-2024-4358")
    telerik_then = next(r for r in then if r["cve_id"] == "CVE-2024-4358")
    assert telerik_now["kev"] and not telerik_then["kev"]  # KEV added it on 2024-06-13
    assert "CVE-2024-4358" not in {r["cve_id"] for r in kev_then}


@pytest.mark.parametrize("bad", ["yesterday", "2024-02-30", "2024-13-01", "20240601", 20240601, ""])
def test_bad_as_of_is_a_422_problem(history_store: HistoryStore, bad: Any) -> None:
    with history_store.client() as client:
        for path, body in (("/v1/ask", {"question": "CVE-2024-4358"}), ("/v1/search", {"query": "telerik"})):
            response = client.post(path, json={**body, "as_of": bad})
            assert response.status_code == 422, response.text
            problem = response.json()
            assert problem["code"] == "invalid_request" and problem["errors"][0]["field"] == "as_of"


def test_a_date_time_as_of_picks_the_version_valid_at_that_instant(history_store: HistoryStore) -> None:
    cve = "CVE-2024-4358"
    chain = history_store.chain(cve)
    second = when(chain[1]["commit_date"])
    instant = second.isoformat().replace("+00:00", "Z")
    with history_store.client() as client:
        at = client.post("/v1/ask", json={"question": f"What is {cve}?", "as_of": instant}).json()
        stream = client.post(
            "/v1/ask", json={"question": f"What is {cve}?", "as_of": instant, "stream": True}
        )
    assert [c["ref"] for c in at["citations"]] == [f"{cve}@v2"]
    events = [b.split("\n") for b in stream.text.strip().split("\n\n")]
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert done["answer"] == at["answer"] and done["citations"] == at["citations"]
