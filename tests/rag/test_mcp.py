"""The MCP server driven by the official SDK's own client: over streamable HTTP from the real
API in uvicorn (behind its keys and rate limit), and over stdio as a local agent starts it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from devstack.corpus import edited, write
from devstack.served import serving
from tests.rag.conftest import Corpus
from workloads.rag.api import create_app
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres]
KEY = "mcp-test-key"
TWIN = "CVE-2099-1301"
TOOLS = {"search", "get_cve", "history", "diff", "ask"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def twin(corpus: Corpus) -> dict[str, Any]:
    """A record the tests own, in two versions (its description rewritten in the second)."""
    original = next(d for d in corpus.records.values() if d["cveMetadata"]["state"] == "PUBLISHED")
    first = json.loads(json.dumps(original).replace(original["cveMetadata"]["cveId"], TWIN))
    write(corpus.target, [first])
    write(corpus.target, [edited(first, description="The flaw, described again in version two.")])
    written: dict[str, Any] = first
    return written


@pytest.fixture
def url(corpus: Corpus, twin: dict[str, Any]) -> Iterator[str]:
    settings = corpus.settings(api_keys=frozenset({KEY}), rate_limit_per_minute=30)
    with serving(create_app(settings, RagService(settings, embedder=corpus.embedder))) as base:
        yield base


@asynccontextmanager
async def over_http(base: str, key: str = KEY) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write_, _),
        ClientSession(read, write_) as session,
    ):
        await session.initialize()
        yield session


def payload(result: CallToolResult) -> Any:
    assert not result.isError, result.content
    return result.structuredContent


def error_text(result: CallToolResult) -> str:
    assert result.isError
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def test_an_agent_uses_every_tool_over_streamable_http(url: str, twin: dict[str, Any]) -> None:
    async def session() -> None:
        async with over_http(url) as mcp:
            assert {t.name for t in (await mcp.list_tools()).tools} == TOOLS
            found = payload(await mcp.call_tool("search", {"query": TWIN.lower(), "top_k": 3}))
            assert found["results"][0]["cve_id"] == TWIN and "id" in found["results"][0]["matched"]
            assert set(found["index"]) == {"indexed", "records", "complete"} and found["index"]["records"] > 0
            current = payload(await mcp.call_tool("get_cve", {"cve_id": TWIN}))
            assert current["description"] == "The flaw, described again in version two."
            assert current["record"]["cveMetadata"]["cveId"] == TWIN
            versions = payload(await mcp.call_tool("history", {"cve_id": TWIN}))["versions"]
            assert [v["version"] for v in versions] == [1, 2] and versions[0]["changes"] == ["created"]
            then = payload(
                await mcp.call_tool("get_cve", {"cve_id": TWIN, "as_of": versions[0]["valid_from"]})
            )
            original = twin["containers"]["cna"]["descriptions"][0]["value"]
            assert then["ref"] == f"{TWIN}@v1" and then["description"] == original
            change = payload(await mcp.call_tool("diff", {"cve_id": TWIN}))
            assert change["from"]["ref"] == f"{TWIN}@v1" and change["to"]["ref"] == f"{TWIN}@v2"
            assert "description" in change["changes"]
            answer = payload(await mcp.call_tool("ask", {"question": f"What is {TWIN}?"}))
            assert answer["model"] == "none" and TWIN in {c["cve_id"] for c in answer["citations"]}
            assert answer["index"] == found["index"]

    anyio.run(session)


def test_a_client_s_mistake_is_a_tool_error_that_says_what_to_change(url: str) -> None:
    async def session() -> None:
        async with over_http(url) as mcp:
            missing = await mcp.call_tool("get_cve", {"cve_id": "CVE-2031-99999"})
            assert "CVE-2031-99999 is not in the store" in error_text(missing)
            assert "not a CVE id" in error_text(await mcp.call_tool("history", {"cve_id": "nope"}))
            early = await mcp.call_tool("get_cve", {"cve_id": TWIN, "as_of": "2001-01-01"})
            assert "not yet published at 2001-01-01" in error_text(early)
            bad_date = await mcp.call_tool("get_cve", {"cve_id": TWIN, "as_of": "yesterday"})
            assert "as_of" in error_text(bad_date)
            too_many = await mcp.call_tool("search", {"query": "kernel", "top_k": 500})
            assert "top_k" in error_text(too_many)
            no_version = await mcp.call_tool("diff", {"cve_id": TWIN, "from_version": "v9"})
            assert "has versions 1 to 2" in error_text(no_version)

    anyio.run(session)


def test_mcp_takes_the_api_s_keys_and_shares_its_rate_limit(corpus: Corpus) -> None:
    settings = corpus.settings(api_keys=frozenset({KEY}), rate_limit_per_minute=4)
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    app = create_app(settings, RagService(settings, embedder=corpus.embedder))
    with serving(app) as base, httpx.Client(base_url=base, headers=accept) as http:
        missing = http.post("/mcp", json=initialize)
        assert missing.status_code == 401 and missing.json()["code"] == "missing_api_key"
        wrong = http.post("/mcp", json=initialize, headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_api_key"
        auth = {"Authorization": f"Bearer {KEY}"}
        for _ in range(2):  # the REST API and MCP draw on one budget per key
            assert http.post("/v1/search", json={"query": "kernel"}, headers=auth).status_code == 200
        for _ in range(2):
            ok = http.post("/mcp", json=initialize, headers=auth)
            assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "cverag"
        limited = http.post("/mcp", json=initialize, headers=auth)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1


def test_stdio_serves_the_same_tools_to_a_local_agent(corpus: Corpus, twin: dict[str, Any]) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "CVERAG_PG_DSN": corpus.target.dsn,
        "CVERAG_PG_SCHEMA": corpus.target.schema,
    }
    server = StdioServerParameters(command=sys.executable, args=["-m", "workloads.rag.agent_tools"], env=env)

    async def session() -> None:
        async with stdio_client(server) as (read, write_), ClientSession(read, write_) as mcp:
            await mcp.initialize()
            assert {t.name for t in (await mcp.list_tools()).tools} == TOOLS
            versions = payload(await mcp.call_tool("history", {"cve_id": TWIN}))["versions"]
            assert [v["version"] for v in versions] == [1, 2]

    anyio.run(session)
