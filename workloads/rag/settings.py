"""Every setting of the RAG API, read from the environment only (the operator sets it in the pod spec).

Store and index (shared with ``python -m workloads.index``, see :mod:`workloads.index.settings`):

* ``CVERAG_PG_DSN`` or the libpq ``PGHOST``/``PGPORT``/``PGDATABASE``/``PGUSER``/``PGPASSWORD``/
  ``PGSSLMODE`` variables; ``CVERAG_PG_SCHEMA`` (default ``cverag``): the store.
* ``CVERAG_INDEX_BACKEND`` (``pgvector`` | ``pinecone``), ``CVERAG_INDEX_TABLE`` (pgvector table,
  default ``cve_embeddings``), ``CVERAG_PINECONE_API_KEY`` / ``_INDEX`` / ``_NAMESPACE`` /
  ``_CLOUD`` / ``_REGION`` / ``_HOST``.
* ``CVERAG_EMBEDDING_PROVIDER`` (``local`` | ``huggingface`` | ``tei``), ``_MODEL``, ``_URL`` (or
  ``_ENDPOINT``), ``_DIMENSION``, ``_TIMEOUT``; ``CVERAG_HF_TOKEN`` / ``CVERAG_TEI_TOKEN``.  Must
  match what the index was built with.

The language model (optional; without it answers are built from the records alone):

* ``CVERAG_LLM_URL``: OpenAI-compatible base URL, e.g. ``http://vllm:8000/v1`` (vLLM),
  ``http://ollama:11434/v1`` (Ollama), ``http://llama:8080/v1`` (llama.cpp server).
* ``CVERAG_LLM_MODEL`` (default ``meta-llama/Meta-Llama-3-8B-Instruct``), ``CVERAG_LLM_API_KEY``
  (from a Secret; never logged), ``CVERAG_LLM_TIMEOUT`` (seconds for a whole answer, default 30),
  ``CVERAG_LLM_MAX_TOKENS`` (default 400).

The API itself:

* ``CVERAG_API_KEYS``: comma-separated Bearer keys (from a Secret); empty = no authentication.
* ``CVERAG_RATE_LIMIT_PER_MINUTE``: requests per minute per key (per client address without
  keys) on ``/v1/*``, default 120; 0 disables the limit.
* ``CVERAG_TOP_K`` (default 10 for search; ``/v1/ask`` defaults to 5), ``CVERAG_MAX_TOP_K`` (50).
* ``CVERAG_MAX_REQUEST_BYTES`` (default 16384), ``CVERAG_MAX_QUERY_CHARS`` (default 2000).
* ``CVERAG_DB_POOL_SIZE`` (default 8): PostgreSQL connections (and pgvector backends) per process.
* ``CVERAG_PORT`` (default 8000; ``python -m workloads.rag`` listens on 0.0.0.0).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from workloads.index.settings import IndexSettings

DEFAULT_LLM_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"


@dataclass(frozen=True)
class RagSettings:
    index: IndexSettings
    llm_url: str | None = None
    llm_model: str = DEFAULT_LLM_MODEL
    llm_api_key: str = field(default="", repr=False)
    llm_timeout: float = 30.0
    llm_max_tokens: int = 400
    api_keys: frozenset[str] = field(default_factory=frozenset, repr=False)
    rate_limit_per_minute: int = 120
    top_k: int = 10
    max_top_k: int = 50
    max_request_bytes: int = 16384
    max_query_chars: int = 2000
    db_pool_size: int = 8
    port: int = 8000

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> RagSettings:
        env = os.environ if env is None else env
        keys = frozenset(k.strip() for k in env.get("CVERAG_API_KEYS", "").split(",") if k.strip())
        values: dict[str, object] = {
            "index": IndexSettings.from_env(env),
            "llm_url": env.get("CVERAG_LLM_URL") or None,
            "llm_model": env.get("CVERAG_LLM_MODEL") or DEFAULT_LLM_MODEL,
            "llm_api_key": env.get("CVERAG_LLM_API_KEY", ""),
            "llm_timeout": float(env.get("CVERAG_LLM_TIMEOUT", "30")),
            "llm_max_tokens": int(env.get("CVERAG_LLM_MAX_TOKENS", "400")),
            "api_keys": keys,
            "rate_limit_per_minute": int(env.get("CVERAG_RATE_LIMIT_PER_MINUTE", "120")),
            "top_k": int(env.get("CVERAG_TOP_K", "10")),
            "max_top_k": int(env.get("CVERAG_MAX_TOP_K", "50")),
            "max_request_bytes": int(env.get("CVERAG_MAX_REQUEST_BYTES", "16384")),
            "max_query_chars": int(env.get("CVERAG_MAX_QUERY_CHARS", "2000")),
            "db_pool_size": int(env.get("CVERAG_DB_POOL_SIZE", "8")),
            "port": int(env.get("CVERAG_PORT", "8000")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
