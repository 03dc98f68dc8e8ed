"""The language model behind any OpenAI-compatible ``/v1/chat/completions`` (vLLM, Ollama,
llama.cpp server, a hosted API), through the official ``openai`` client.

The client gets the whole-answer deadline as its timeout and no retries: a slow model is
answered by the grounded fallback, not by a second wait.  Streaming applies the same
deadline to the whole stream, so a server that stalls mid-answer cannot hold a request open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI


class LlmUnavailable(RuntimeError):
    """The model did not answer in time or failed; the message is safe to show (no secrets)."""


class ChatModel:
    def __init__(
        self, base_url: str, model: str, api_key: str = "", timeout: float = 30.0, max_tokens: int = 400
    ):
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    async def close(self) -> None:
        await self._client.close()

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {"model": self.model, "messages": messages, "max_tokens": self.max_tokens, "temperature": 0.1}

    async def complete(self, messages: list[dict[str, str]]) -> str:
        try:
            response = await asyncio.wait_for(
                self._client.chat.completions.create(**self._request(messages)), self.timeout
            )
        except TimeoutError as exc:
            raise LlmUnavailable(f"the language model did not answer within {self.timeout:g}s") from exc
        except openai.OpenAIError as exc:
            raise LlmUnavailable(f"the language model failed: {_reason(exc)}") from exc
        text: str | None = response.choices[0].message.content if response.choices else None
        if not text or not text.strip():
            raise LlmUnavailable("the language model returned an empty answer")
        return text

    async def stream(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        """Text pieces as they come; raises :class:`LlmUnavailable` (possibly after some pieces)."""
        deadline = time.monotonic() + self.timeout
        try:
            chunks = await asyncio.wait_for(
                self._client.chat.completions.create(**self._request(messages), stream=True), self.timeout
            )
            iterator = chunks.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(
                        iterator.__anext__(), max(deadline - time.monotonic(), 0.01)
                    )
                except StopAsyncIteration:
                    return
                piece = chunk.choices[0].delta.content if chunk.choices else None
                if piece:
                    yield piece
        except TimeoutError as exc:
            raise LlmUnavailable(f"the language model did not finish within {self.timeout:g}s") from exc
        except openai.OpenAIError as exc:
            raise LlmUnavailable(f"the language model failed: {_reason(exc)}") from exc


def _reason(exc: openai.OpenAIError) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect"
    return type(exc).__name__
