"""Contract tests of every endpoint of the RAG API, with authentication off and on.

Each response is checked for exactly the keys of the contract; bad requests (empty, too
large, wrong types, unknown fields) must be 4xx with a message naming what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack.corpus import edited, write
from tests.rag.conftest import ClientFactory, Corpus

pytestmark = [pytest.mark.postgres]
RESULT_KEYS = {"cve_id", "score", "title", "severity", "cvss", "published", "kev", "matched"}


def _kev_id(corpus: Corpus) -> str:
    return next(c for c, d in corpus.records.items() if '"type": "kev"' in json.dumps(d))


def _scored_id(corpus: Corpus) -> str:
    return next(c for c, d in corpus.records.items() if "cvssV3_1" in json.dumps(d))


def test_search_finds_a_named_id_first_with_the_contract_fields(client: TestClient, corpus: Corpus) -> None:
    wanted = _scored_id(corpus)
    response = client.post("/v1/search", json={"query": f"tell me about {wanted.lower()}", "top_k": 3})
    assert response.status_code == 200
    results = response.json()["results"]
    assert set(response.json()) == {"results", "index"} and 1 <= len(results) <= 3
    assert all(set(r) == RESULT_KEYS for r in results)
    assert results[0]["cve_id"] == wanted and results[0]["cvss"] is not None


def test_search_applies_explicit_filters(client: TestClient, corpus: Corpus) -> None:
    response = client.post(
        "/v1/search", json={"query": "remote code execution", "top_k": 20, "filters": {"kev": True}}
    )
    results = response.json()["results"]
    assert results and all(r["kev"] for r in results)
    strict = client.post("/v1/search", json={"query": "overflow", "filters": {"severity": "critical"}}).json()
    assert all(r["severity"] == "CRITICAL" for r in strict["results"])
    dated = client.post("/v1/search", json={"query": "denial of service", "filters": {"year": 2021}}).json()
    assert dated["results"] and all(r["published"].startswith("2021") for r in dated["results"])


def test_ask_without_a_model_answers_from_the_records(client: TestClient, corpus: Corpus) -> None:
    wanted = _kev_id(corpus)
    body = client.post("/v1/ask", json={"question": f"Is {wanted} exploited?"}).json()
    assert set(body) == {"answer", "citations", "model", "index"}
    assert body["model"] == "none" and "without a language model" in body["answer"]
    assert [c["cve_id"] for c in body["citations"]] == [wanted]
    assert set(body["citations"][0]) == {"cve_id", "title", "url", "version", "valid_from", "ref"}
    assert body["citations"][0]["url"].endswith(wanted) and "CISA KEV on 20" in body["answer"]


def test_ask_streams_server_sent_events(client: TestClient, corpus: Corpus) -> None:
    wanted = _scored_id(corpus)
    with client.stream(
        "POST", "/v1/ask", json={"question": f"What is {wanted}?", "stream": True}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [
        (b.split("\n")[0].removeprefix("event: "), json.loads(b.split("\n")[1].removeprefix("data: ")))
        for b in text.strip().split("\n\n")
    ]
    names = [e for e, _ in events]
    assert names[0] == "citations" and names[-1] == "done" and "delta" in names
    done = events[-1][1]
    assert set(done) == {"answer", "citations", "model", "index"}
    assert done["answer"] == "".join(d["text"] for e, d in events if e == "delta")


def test_record_and_history(client: TestClient, corpus: Corpus) -> None:
    original = corpus.records[_scored_id(corpus)]
    twin = json.loads(json.dumps(original).replace(original["cveMetadata"]["cveId"], "CVE-2099-1001"))
    write(corpus.target, [twin])
    write(corpus.target, [edited(twin, description="A rewritten description of the same flaw.")])
    record = client.get("/v1/cves/cve-2099-1001").json()
    assert (
        record["cve_id"] == "CVE-2099-1001"
        and record["description"] == "A rewritten description of the same flaw."
    )
    assert record["cvss"] and record["cvss"][0]["vector"].startswith("CVSS:")
    assert record["record"]["cveMetadata"]["cveId"] == "CVE-2099-1001" and "affected" in record
    versions = client.get("/v1/cves/CVE-2099-1001/history").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["changes"] == ["created"] and "description" in versions[1]["changes"]
    assert client.get("/v1/cves/CVE-2099-9999").status_code == 404
    bad = client.get("/v1/cves/not-a-cve")
    assert bad.status_code == 400 and "CVE-YYYY-NNNN" in bad.json()["detail"]


def test_probes_metrics_docs_and_page(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": "ok", "index": "ok"}
    client.post("/v1/search", json={"query": "sql injection"})
    assert 'cverag_rag_requests_total{route="/v1/search",status="200"}' in client.get("/metrics").text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/search", "/v1/ask", "/v1/cves/{cve_id}", "/v1/cves/{cve_id}/history"} <= set(paths)
    assert '<form id="ask"' in client.get("/").text


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"query": ""}, 422, "query: String should have at least 1 character"),
        ({"query": "   "}, 422, "query: String should have at least 1 character"),
        ({}, 422, "query: Field required"),
        ({"query": 42}, 422, "query: Input should be a valid string"),
        ({"query": "x", "top_k": "5"}, 422, "top_k: Input should be a valid integer"),
        ({"query": "x", "top_k": 0}, 422, "top_k: Input should be greater than or equal to 1"),
        ({"query": "x", "top_k": 51}, 422, "top_k"),
        (
            {"query": "x", "filters": {"vendorr": "apache"}},
            422,
            "filters.vendorr: Extra inputs are not permitted",
        ),
        ({"query": "x", "filters": {"kev": "yes"}}, 422, "filters.kev: Input should be a valid boolean"),
        ({"query": "x", "filters": {"cwe": "79; DROP"}}, 422, "filters.cwe"),
        ({"query": "x" * 2001}, 422, "query: String should have at most 2000 characters"),
    ],
)
def test_bad_search_requests_are_4xx_with_a_reason(
    client: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/v1/search", json=body)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_bad_ask_requests_and_raw_bodies(client: TestClient) -> None:
    assert (
        "stream: Input should be a valid boolean"
        in client.post("/v1/ask", json={"question": "x", "stream": "yes"}).json()["detail"]
    )
    assert client.post("/v1/ask", json={"question": ""}).status_code == 422
    broken = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "JSON decode error" in broken.json()["detail"]
    huge = client.post(
        "/v1/search",
        content=json.dumps({"query": "a" * 20000}).encode(),
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and "larger than 16384 bytes" in huge.json()["detail"]

    def chunks() -> Any:
        yield b'{"query": "'
        for _ in range(40):
            yield b"a" * 1000
        yield b'"}'

    streamed = client.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_api_keys_guard_v1_but_not_probes(make_client: ClientFactory) -> None:
    with make_client(api_keys=frozenset({"k-one", "k-two"})) as client:
        missing = client.post("/v1/search", json={"query": "xss"})
        assert missing.status_code == 401 and "Authorization: Bearer" in missing.json()["detail"]
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API key"
        ok = client.post("/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer k-two"})
        assert ok.status_code == 200
        assert (
            client.get("/v1/cves/CVE-2099-0000", headers={"Authorization": "Basic k-one"}).status_code == 401
        )
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_rate_limit_is_per_key(make_client: ClientFactory) -> None:
    with make_client(api_keys=frozenset({"a", "b"}), rate_limit_per_minute=3) as client:
        codes = [
            client.post(
                "/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer a"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = client.post("/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer a"})
        assert (
            "3 requests per minute" in limited.json()["detail"] and int(limited.headers["retry-after"]) >= 1
        )
        other = client.post("/v1/search", json={"query": "xss"}, headers={"Authorization": "Bearer b"})
        assert other.status_code == 200


def test_a_record_without_a_cna_title_is_cited_by_its_description_s_first_sentence(
    client: TestClient, corpus: Corpus
) -> None:
    original = corpus.records[_scored_id(corpus)]
    untitled = json.loads(json.dumps(original).replace(original["cveMetadata"]["cveId"], "CVE-2099-1401"))
    untitled["containers"]["cna"].pop("title", None)
    write(
        corpus.target, [edited(untitled, description="Untitled flaw in the frobnicator. More detail here.")]
    )
    answer = client.post("/v1/ask", json={"question": "What is CVE-2099-1401?"}).json()
    cited = {c["cve_id"]: c["title"] for c in answer["citations"]}
    assert cited["CVE-2099-1401"] == "Untitled flaw in the frobnicator"
    assert "(no title)" not in answer["answer"]
    found = client.post("/v1/search", json={"query": "CVE-2099-1401", "top_k": 1}).json()["results"]
    assert found[0]["title"] == "Untitled flaw in the frobnicator"
