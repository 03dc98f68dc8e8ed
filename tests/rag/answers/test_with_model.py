"""With the llama.cpp test server (SmolLM2-135M): the findings cite the right versions and
the facts block is the one the deterministic answer ends with, whatever the model wrote."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.rag.answers.conftest import HistoryStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(3600)]
FACTS = "Facts from the store:\n"


def _model(llm: Any) -> dict[str, Any]:
    return {"llm_url": llm.base_url, "llm_model": llm.model, "llm_timeout": 300.0, "llm_max_tokens": 32}


@pytest.mark.parametrize(
    ("question", "cited"),
    [
        ("When was CVE-2024-4358 added to KEV?", "CVE-2024-4358@v6"),
        ("How did the CVSS score of CVE-2022-0551 change over time?", "CVE-2022-0551@v4"),
        ("Is CVE-2024-3400 exploited?", "Yes: CVE-2024-3400 is known to be exploited."),
    ],
)
def test_model_answers_keep_findings_and_facts(
    history_store: HistoryStore, llm: Any, question: str, cited: str
) -> None:
    with history_store.client() as client:
        plain = client.post("/v1/ask", json={"question": question}).json()
    with history_store.client(**_model(llm)) as client:
        body = client.post("/v1/ask", json={"question": question}).json()
        streamed = client.post("/v1/ask", json={"question": question, "stream": True})
    assert plain["model"] == "none" and body["model"] == llm.model
    findings = plain["answer"].split("\n\nAnswer built from the CVE store")[0]
    assert cited in findings and body["answer"].startswith(findings + "\n\n")
    assert body["answer"].split(FACTS)[1] == plain["answer"].split(FACTS)[1]
    assert body["citations"] == plain["citations"]
    events = [b.split("\n") for b in streamed.text.strip().split("\n\n")]
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert done["model"] == llm.model and done["answer"].startswith(findings + "\n\n")
    assert done["answer"].split(FACTS)[1] == plain["answer"].split(FACTS)[1]


def test_an_unknown_id_never_reaches_the_model(history_store: HistoryStore, llm: Any) -> None:
    with history_store.client(**_model(llm)) as client:
        body = client.post("/v1/ask", json={"question": "What is CVE-2031-99999?"}).json()
    assert body["model"] == "none" and body["answer"].startswith("CVE-2031-99999 is not in the store")
    assert body["citations"] == []
