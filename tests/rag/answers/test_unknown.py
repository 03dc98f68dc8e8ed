"""Know what is not there: unknown, malformed and REJECTED ids, and times before publication,
said first, with no unrelated records dressed up as the answer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rag.answers.conftest import HistoryStore, when

pytestmark = [pytest.mark.postgres]


def _ask(store: HistoryStore, question: str, **extra: object) -> dict[str, Any]:
    with store.client() as client:
        response = client.post("/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_unknown_id_is_said_first_and_nothing_unrelated_is_shown(history_store: HistoryStore) -> None:
    body = _ask(history_store, "What is CVE-2031-99999?")
    answer = str(body["answer"])
    assert answer.startswith("CVE-2031-99999 is not in the store")
    assert body["citations"] == [] and "Facts from the store" not in answer


def test_known_and_unknown_ids_together_answer_the_known_one(history_store: HistoryStore) -> None:
    body = _ask(history_store, "Compare CVE-2031-99999 and CVE-2024-3400")
    answer = str(body["answer"])
    assert answer.startswith("CVE-2031-99999 is not in the store")
    assert [c["cve_id"] for c in body["citations"]] == ["CVE-2024-3400"]
    assert "Facts from the store:\nCVE-2024-3400" in answer


def test_a_malformed_id_is_named_with_the_padded_id_the_store_has(history_store: HistoryStore) -> None:
    answer = str(_ask(history_store, "Tell me about CVE-2024-3400 and cve-24-3400")["answer"])
    assert "'cve-24-3400' is not a valid CVE id" in answer
    padded = str(_ask(history_store, "what is CVE-2024-340?")["answer"])
    assert padded.startswith("'CVE-2024-340' is not a valid CVE id") and "did you mean" not in padded
    assert "Facts from the store" not in padded


def test_a_rejected_record_says_when_and_why(history_store: HistoryStore) -> None:
    cve, doc = next(
        (c, d) for c, d in history_store.current.items() if d["cveMetadata"]["state"] == "REJECTED"
    )
    reason = doc["containers"]["cna"]["rejectedReasons"][0]["value"]
    answer = str(_ask(history_store, f"Is {cve} dangerous?")["answer"])
    rejected = doc["cveMetadata"].get("dateRejected") or doc["cveMetadata"]["dateUpdated"]
    assert answer.startswith(f"{cve} is REJECTED ({cve}@v1): rejected on {rejected[:10]}")
    assert reason[:60] in answer


def test_a_time_before_publication_says_not_yet_published(history_store: HistoryStore) -> None:
    doc = history_store.current["CVE-2024-3400"]
    published = doc["cveMetadata"]["datePublished"][:10]
    body = _ask(history_store, "What did CVE-2024-3400 say?", as_of="2023-12-31")
    assert str(body["answer"]).startswith(
        f"CVE-2024-3400 was not yet published on 2023-12-31: it was published on {published}"
    )
    asked = _ask(history_store, "What did CVE-2024-3400 say on 2023-12-31?")
    assert str(asked["answer"]).startswith("CVE-2024-3400 was not yet published on 2023-12-31")


def test_a_history_cve_before_its_first_stored_version(history_store: HistoryStore) -> None:
    first = history_store.chain("CVE-2024-3727")[0]
    day = when(first["commit_date"]).date()
    body = _ask(history_store, "What did CVE-2024-3727 say on 2024-01-02?")
    published = first["record"]["cveMetadata"]["datePublished"][:10]
    expected = "not yet published" if published > "2024-01-02" else "holds no version"
    assert expected in str(body["answer"]).split("\n")[0] and str(day) in str(body["answer"]).split("\n")[0]
