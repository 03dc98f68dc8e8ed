"""The embedder's part of the index's (and the RAG API's) settings: ``CVERAG_EMBEDDING_*``.

The RAG API must embed questions with the model the index was built with, so both programs
inherit these fields and the operator sets them from the same CveIndex spec.  Tokens come from
a Secret and are ``SecretStr``; only the provider that uses one reads it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from workloads.common.settings import ProgramSettings, secret_value
from workloads.index.embedding import DEFAULT_MODEL, EmbeddingConfig, ProviderName


class EmbeddingSettings(ProgramSettings):
    """Which embedder, which model, and how to reach it."""

    embedding_provider: ProviderName = Field(
        default=EmbeddingConfig.provider,
        description="`local` (all-MiniLM-L6-v2 in-process), `huggingface` (Inference API or an "
        "Inference Endpoint) or `tei` (a text-embeddings-inference server).",
    )
    embedding_model: str = Field(default=DEFAULT_MODEL, description="The model's Hugging Face id.")
    embedding_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CVERAG_EMBEDDING_URL", "CVERAG_EMBEDDING_ENDPOINT"),
        description="TEI base URL, or a Hugging Face Inference Endpoint URL "
        "(`CVERAG_EMBEDDING_ENDPOINT` is read as another name for it).",
    )
    embedding_dimension: int | None = Field(
        default=None, description="Vector width the index expects; the embedder is checked against it."
    )
    embedding_batch_size: int = Field(
        default=EmbeddingConfig.batch_size, ge=1, description="Texts per embedding call."
    )
    embedding_timeout: float = Field(
        default=EmbeddingConfig.timeout, description="Seconds per remote embedding call."
    )
    embedding_threads: int = Field(
        default=EmbeddingConfig.threads,
        ge=0,
        description="onnxruntime threads of the local provider; 0 = every core of the node "
        "(the operator sets the pod's CPU limit).",
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        default=EmbeddingConfig.precision,
        description="Local provider: `fp32` (exact, the default) or `int8` (weight matrices "
        "quantized per channel; faster, hit@5 unchanged but top-10 neighbour overlap ~0.93 with fp32).",
    )
    embedding_cache_dir: str | None = Field(
        default="~/.cache/cverag/models",
        description="Where the local provider caches its int8 model (keyed by a recipe hash); "
        "unwritable or empty: built in memory at every start (a few seconds).",
    )
    hf_token: SecretStr | None = Field(
        default=None, description="Hugging Face token (huggingface provider); never logged."
    )
    tei_token: SecretStr | None = Field(
        default=None, description="Bearer token of the TEI server (tei provider); never logged."
    )

    @property
    def embedding(self) -> EmbeddingConfig:
        token = {"huggingface": self.hf_token, "tei": self.tei_token}.get(self.embedding_provider)
        return EmbeddingConfig(
            provider=self.embedding_provider,
            model=self.embedding_model,
            url=self.embedding_url,
            token=secret_value(token),
            batch_size=self.embedding_batch_size,
            dimension=self.embedding_dimension,
            timeout=self.embedding_timeout,
            threads=self.embedding_threads,
            precision=self.embedding_precision,
            cache_dir=self.embedding_cache_dir or None,
        )
