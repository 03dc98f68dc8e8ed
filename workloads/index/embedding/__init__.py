"""Text embedding providers behind one small protocol.

The index workload only needs "texts in, unit vectors out, and how wide they are".  Three
providers implement it: ``local`` runs all-MiniLM-L6-v2 in-process (the default: no network,
no GPU), ``huggingface`` calls the Hugging Face Inference API (or a dedicated Inference
Endpoint), and ``tei`` calls a text-embeddings-inference server the operator may run next to
the index.  The provider is chosen by configuration (:func:`from_env`, reading
:class:`~workloads.index.embedding.settings.EmbeddingSettings`), so the operator passes
environment variables and a Secret reference, never code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, runtime_checkable

from workloads.index.embedding.models import LOCAL_MODEL

ProviderName = Literal["local", "huggingface", "tei"]
PROVIDERS: tuple[ProviderName, ...] = ("local", "huggingface", "tei")
DEFAULT_MODEL = LOCAL_MODEL
T = TypeVar("T")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of a fixed width, one per text, in input order."""

    @property
    def dimension(self) -> int: ...

    @property
    def model(self) -> str: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class EmbeddingError(RuntimeError):
    """The provider could not embed a batch; the message says which provider and why."""


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class EmbeddingConfig:
    """What the operator configures for a CveIndex's embedder.

    ``url`` is the TEI base URL or a Hugging Face Inference Endpoint URL; ``token`` comes
    from a Secret through the environment and is never logged (``repr`` hides it).
    """

    provider: ProviderName = "local"
    model: str = DEFAULT_MODEL
    url: str | None = None
    token: str | None = None
    batch_size: int = 32
    dimension: int | None = None
    timeout: float = 60.0
    # In-process threads (local provider).  0 lets onnxruntime use every core of the node, which
    # in a pod with a CPU limit oversubscribes it: the operator sets this from the limit.
    threads: int = 0
    # Local provider: "int8" quantized weight matrices (faster) or the exact "fp32" graph.
    precision: Literal["fp32", "int8"] = "fp32"
    cache_dir: str | None = None

    def __repr__(self) -> str:
        token = "<set>" if self.token else None
        return (
            f"EmbeddingConfig(provider={self.provider!r}, model={self.model!r}, url={self.url!r}, "
            f"token={token}, batch_size={self.batch_size}, dimension={self.dimension})"
        )


def config_from_env(env: Mapping[str, str] | None = None) -> EmbeddingConfig:
    """``CVERAG_EMBEDDING_*`` (and the provider's token variable) from ``env`` (default ``os.environ``)."""
    from workloads.index.embedding.settings import EmbeddingSettings

    return EmbeddingSettings.from_env(env).embedding


def create_embedder(config: EmbeddingConfig) -> Embedder:
    """The provider ``config`` names; heavy imports happen only for the one chosen."""
    if config.provider == "local":
        from pathlib import Path

        from workloads.index.embedding.local import LocalEmbedder
        from workloads.index.embedding.minilm import MiniLM

        cache = Path(config.cache_dir).expanduser() if config.cache_dir else None
        encoder = MiniLM(threads=config.threads, precision=config.precision, cache_dir=cache)
        return LocalEmbedder(batch_size=config.batch_size, encoder=encoder)
    if config.provider == "huggingface":
        from workloads.index.embedding.remote import HuggingFaceEmbedder

        return HuggingFaceEmbedder(config)
    if config.provider == "tei":
        from workloads.index.embedding.remote import TeiEmbedder

        return TeiEmbedder(config)
    raise ValueError(f"unknown embedding provider {config.provider!r}")


def from_env(env: Mapping[str, str] | None = None) -> Embedder:
    return create_embedder(config_from_env(env))
