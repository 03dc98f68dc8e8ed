"""The test LLM answers OpenAI-style chat completions, plain and streamed (server-sent events).

This is the stand-in for the GPU-hosted model the RAG API calls; it is the real llama.cpp
server, so these tests pin down the protocol the RAG client will rely on.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]  # the first run compiles llama-cpp-python
PROMPT = [
    {"role": "system", "content": "You are a security assistant. Answer in one short sentence."},
    {"role": "user", "content": "What is a buffer overflow?"},
]
REQUEST = {"messages": PROMPT, "max_tokens": 24, "temperature": 0.0, "seed": 7}


def test_models_lists_the_served_alias(llm: Any) -> None:
    models = httpx.get(f"{llm.base_url}/models", timeout=30).json()
    assert llm.model in [m["id"] for m in models["data"]]


def test_chat_completion(llm: Any) -> None:
    response = httpx.post(
        f"{llm.base_url}/chat/completions", json={**REQUEST, "model": llm.model}, timeout=300
    )
    assert response.status_code == 200, response.text
    body = response.json()
    choice = body["choices"][0]
    assert body["object"] == "chat.completion"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    assert 0 < body["usage"]["completion_tokens"] <= REQUEST["max_tokens"]
    assert body["usage"]["prompt_tokens"] > 10


def test_streamed_chat_completion_matches_the_plain_one(llm: Any) -> None:
    """Greedy decoding is deterministic, so the deltas must add up to the plain answer."""
    payload = {**REQUEST, "model": llm.model}
    plain = httpx.post(f"{llm.base_url}/chat/completions", json=payload, timeout=300).json()
    chunks: list[dict[str, Any]] = []
    done = False
    with httpx.stream(
        "POST", f"{llm.base_url}/chat/completions", json={**payload, "stream": True}, timeout=300
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            if data.strip() == "[DONE]":
                done = True
                break
            chunks.append(json.loads(data))
    assert done, "the stream must end with data: [DONE]"
    assert len(chunks) > 2 and all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
