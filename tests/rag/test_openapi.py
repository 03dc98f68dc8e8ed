"""The committed OpenAPI document is the app's, and the app keeps to it under fuzzing.

Schemathesis generates requests from the committed ``workloads/rag/openapi.json`` (valid and
invalid bodies, odd path ids, unknown fields) and sends them over HTTP to the real app in
uvicorn, on the session corpus in a real PostgreSQL with the real embedder, with API keys on.
Schemathesis' default checks judge every response: no 5xx; a status, content type, headers
and body the document declares; invalid data refused and valid data accepted (so the
document is neither looser nor stricter than the app); without the key, 401.  The examples
per operation are bounded and derandomized, so the run is short and the same every time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import negative_data_rejection

from devstack.served import serving
from tests.rag.conftest import Corpus
from workloads.rag import openapi
from workloads.rag.api import create_app
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres]
KEY = "fuzz-key"
EXAMPLES = 25  # per operation and generation mode


def test_committed_document_is_current() -> None:
    committed = openapi.PATH.read_text(encoding="utf-8")
    assert committed == openapi.current(), "stale: run `.venv/bin/python -m workloads.rag.openapi`"
    assert openapi.main(["--check"]) == 0


def test_served_document_is_the_committed_one(client: Any) -> None:
    assert client.get("/openapi.json").json() == json.loads(openapi.PATH.read_text(encoding="utf-8"))


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def fuzz(operation: Operation, base_url: str, tried: dict[str, int]) -> None:
    """Valid and invalid cases of one operation, each sent and its response checked."""
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case[Operation]) -> None:
        tried[operation.label] = tried.get(operation.label, 0) + 1
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"})
        # 413 is how the API refuses an oversized body: a rejection of invalid data, which
        # schemathesis' negative-data check does not list among the statuses it expects.
        excluded: list[Any] = [negative_data_rejection] if response.status_code == 413 else []
        case.validate_response(response, excluded_checks=excluded)

    one()


def test_fuzzed_requests_get_declared_non_5xx_answers(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    app_settings = corpus.settings(api_keys=frozenset({KEY}))
    app = create_app(app_settings, RagService(app_settings, embedder=corpus.embedder))
    schema = schemathesis.openapi.from_path(openapi.PATH)
    tried: dict[str, int] = {}
    started = time.monotonic()
    with serving(app) as base_url:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result.err()  # the committed document loads whole
            fuzz(result.ok(), base_url, tried)
    with capsys.disabled():
        print(
            f"\nschemathesis: {sum(tried.values())} cases over {len(tried)} operations"
            f" in {time.monotonic() - started:.0f} s: {tried}"
        )
    with_inputs = {
        "POST /v1/search",
        "POST /v1/ask",
        "GET /v1/cves/{cve_id}",
        "GET /v1/cves/{cve_id}/history",
        "GET /v1/cves/{cve_id}/diff",
        "GET /v1/changes",
        "GET /v1/export",
    }
    assert {"GET /healthz", "GET /readyz", "GET /metrics"} | with_inputs == set(tried)
    assert all(tried[label] >= EXAMPLES for label in with_inputs)
