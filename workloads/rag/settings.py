"""Every setting of the RAG API, read from the environment only (the operator sets it in the pod spec).

:class:`RagSettings` is the index's settings (:class:`~workloads.index.settings.IndexSettings`:
the store, the backend and the embedder, which must match what the index was built with) plus
the language model and the API's own limits.  docs/configuration.md lists every variable.
Without ``CVERAG_LLM_URL`` answers are built from the records alone.  The API keys and the
LLM's key come from Secrets and are kept out of ``repr`` and logs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import NoDecode

from workloads.common.settings import comma_separated
from workloads.index.settings import IndexSettings

DEFAULT_LLM_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
PROMPT_MARGIN_TOKENS = 256
MIN_RECORD_TOKENS = 512


class RagSettings(IndexSettings):
    """The index the API reads, the LLM it asks, and the API's limits."""

    llm_url: str | None = Field(
        default=None,
        description="OpenAI-compatible base URL, e.g. `http://vllm:8000/v1` (vLLM), "
        "`http://ollama:11434/v1` (Ollama); unset, answers come from the records alone.",
    )
    llm_model: str = Field(default=DEFAULT_LLM_MODEL, description="Model name sent to the LLM server.")
    llm_api_key: str = Field(
        default="", repr=False, description="The LLM server's API key (from a Secret); never logged."
    )
    llm_timeout: float = Field(default=30.0, description="Seconds for a whole answer.")
    llm_max_tokens: int = Field(default=400, description="Longest answer, in tokens.")
    llm_context_tokens: int = Field(
        default=8192,
        ge=1024,
        description="The model's context length in tokens (8192 for Llama 3 8B); the records of a "
        "prompt are cut to fit it with room for the answer, and the answer says how many were left out.",
    )
    api_keys: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        repr=False,
        description="Comma-separated Bearer keys (from a Secret); empty = no authentication.",
    )
    rate_limit_per_minute: int = Field(
        default=120,
        description="Requests per minute per key (per client address without keys) on `/v1/*`; 0 disables it.",
    )
    auth_failures_per_minute: int = Field(
        default=10,
        ge=0,
        description="Failed authentications per minute per client address; past it every request "
        "from the address is 429 until the window moves. 0 disables it.",
    )
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated CIDRs of the proxies (an ingress controller's pods) whose "
        "`X-Forwarded-For`/`X-Forwarded-Proto` name the client; from any other peer they are "
        "ignored. Empty: the TCP peer is the client.",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection may take to send a request's headers (from connecting, or "
        "from the previous response); then it is closed.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request's body may take after its headers; then the connection is closed.",
    )
    keep_alive_timeout: int = Field(
        default=5,
        ge=1,
        description="Seconds an idle keep-alive connection stays open (uvicorn's `timeout_keep_alive`).",
    )
    top_k: int = Field(default=10, description="Results of a search by default (`/v1/ask` defaults to 5).")
    max_top_k: int = Field(default=50, description="Largest `top_k` a request may ask for.")
    max_request_bytes: int = Field(default=16384, description="Largest request body.")
    max_query_chars: int = Field(default=2000, description="Longest question or query.")
    db_pool_size: int = Field(
        default=8, description="PostgreSQL connections (and pgvector backends) per process."
    )
    port: int = Field(default=8000, description="Port `python -m workloads.rag` listens on.")
    host: str = Field(
        default="0.0.0.0",
        description="Address it listens on: every interface in a pod; the demo binds 127.0.0.1.",
    )

    @field_validator("api_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return comma_separated(value)

    @model_validator(mode="after")
    def _room_for_records(self) -> RagSettings:
        if self.prompt_budget < MIN_RECORD_TOKENS:
            raise ValueError(
                f"llm_context_tokens ({self.llm_context_tokens}) leaves no room for records after "
                f"llm_max_tokens ({self.llm_max_tokens}): it must exceed it by at least "
                f"{MIN_RECORD_TOKENS + PROMPT_MARGIN_TOKENS}"
            )
        return self

    @property
    def prompt_budget(self) -> int:
        """Estimated tokens the prompt (rules, question, records) may take: the context less
        the answer and a margin for the chat template's own tokens and the estimate's error."""
        return self.llm_context_tokens - self.llm_max_tokens - PROMPT_MARGIN_TOKENS

    @classmethod
    def for_index(cls, index: IndexSettings, **fields: Any) -> RagSettings:
        """The API over ``index`` (code that holds the index's settings, not an env), plus ``fields``."""
        return cls(**{**{name: getattr(index, name) for name in IndexSettings.model_fields}, **fields})

    @property
    def index(self) -> IndexSettings:
        return self

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)
