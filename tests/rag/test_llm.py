"""The model path against a real OpenAI-compatible server: llama-cpp-python with SmolLM2-135M.

A 135M model's answers are not the point; the protocol is: the request the API sends is
accepted, plain and streamed answers come back and are combined with the store's facts,
a deadline the server cannot meet and a server that is down both end in the grounded
answer, which says why.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack import proc
from tests.rag.conftest import ClientFactory, Corpus

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(3600)]


def _question(corpus: Corpus) -> tuple[str, str]:
    cve = next(c for c, d in corpus.records.items() if "cvssV3_1" in json.dumps(d))
    return cve, f"Explain {cve} in one sentence."


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    blocks = [b.split("\n") for b in text.strip().split("\n\n")]
    return [(b[0].removeprefix("event: "), json.loads(b[1].removeprefix("data: "))) for b in blocks]


def test_answer_is_written_by_the_model_and_ends_with_the_facts(
    make_client: ClientFactory, corpus: Corpus, llm: Any
) -> None:
    cve, question = _question(corpus)
    with make_client(
        llm_url=llm.base_url, llm_model=llm.model, llm_timeout=300.0, llm_max_tokens=48
    ) as client:
        body = client.post("/v1/ask", json={"question": question}).json()
    assert body["model"] == llm.model
    explanation, facts = body["answer"].split("\n\nFacts from the store:\n")
    assert explanation.strip() and "without a language model" not in explanation
    assert facts.startswith(cve) and [c["cve_id"] for c in body["citations"]] == [cve]


def test_streamed_answer_arrives_in_pieces(make_client: ClientFactory, corpus: Corpus, llm: Any) -> None:
    cve, question = _question(corpus)
    with (
        make_client(
            llm_url=llm.base_url, llm_model=llm.model, llm_timeout=300.0, llm_max_tokens=48
        ) as client,
        client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response,
    ):
        events = _events("".join(response.iter_text()))
    deltas = [d["text"] for e, d in events if e == "delta"]
    assert events[0][0] == "citations" and events[-1][0] == "done"
    assert len(deltas) > 3, "a streamed model answer comes token by token"
    done = events[-1][1]
    assert done["model"] == llm.model and done["answer"] == "".join(deltas).strip()
    assert done["answer"].split("Facts from the store:\n")[1].startswith(cve)


def test_deadline_the_model_cannot_meet_falls_back(
    make_client: ClientFactory, corpus: Corpus, llm: Any
) -> None:
    cve, question = _question(corpus)
    with make_client(llm_url=llm.base_url, llm_model=llm.model, llm_timeout=0.001) as client:
        body = client.post("/v1/ask", json={"question": question}).json()
        with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
            done = _events("".join(response.iter_text()))[-1][1]
    for answer in (body, done):
        assert (
            answer["model"] == "none"
            and "did not" in answer["answer"]
            and "within 0.001s" in answer["answer"]
        )
        assert [c["cve_id"] for c in answer["citations"]] == [cve]


def test_server_down_falls_back(make_client: ClientFactory, corpus: Corpus) -> None:
    cve, question = _question(corpus)
    nobody = f"http://127.0.0.1:{proc.free_port()}/v1"
    with make_client(llm_url=nobody, llm_timeout=10.0) as client:
        body = client.post("/v1/ask", json={"question": question}).json()
        with client.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as response:
            done = _events("".join(response.iter_text()))[-1][1]
        metrics = client.get("/metrics").text
    for answer in (body, done):
        assert answer["model"] == "none" and "could not connect" in answer["answer"]
        assert cve in answer["answer"].split("Facts from the store:\n")[1]
    assert 'cverag_rag_answers_total{path="fallback"} 2.0' in metrics
