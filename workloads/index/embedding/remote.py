"""Remote providers: the Hugging Face Inference API and text-embeddings-inference (TEI).

Both return vectors that are L2-normalised here, whatever the server did, so every provider
hands the backend unit vectors and cosine, dot product and euclidean rankings agree.
Transient failures (HTTP 429/503, timeouts) are retried with backoff; anything else becomes
an :class:`EmbeddingError` naming the provider and status, never the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import httpx
import numpy as np
from huggingface_hub import InferenceClient, InferenceTimeoutError
from huggingface_hub.constants import INFERENCE_PROXY_TEMPLATE
from huggingface_hub.errors import HfHubHTTPError

from workloads.index.embedding import EmbeddingConfig, EmbeddingError, batched

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
ATTEMPTS = 4


def _unit_rows(rows: Any, expected: int, provider: str) -> list[list[float]]:
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != expected:
        raise EmbeddingError(
            f"{provider}: expected {expected} sentence vectors, got an array of shape {arr.shape} "
            "(a model that returns token embeddings needs a sentence-embedding model instead)"
        )
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    vectors: list[list[float]] = (arr / np.maximum(norms, 1e-12)).tolist()
    return vectors


def _retrying(call: Callable[[], Any], provider: str, status_of: Callable[[Exception], int | None]) -> Any:
    for attempt in range(ATTEMPTS):
        try:
            return call()
        except Exception as exc:  # narrowed below: only transient ones are retried
            status = status_of(exc)
            transient = status in RETRYABLE_STATUS or isinstance(
                exc, httpx.TimeoutException | InferenceTimeoutError
            )
            if not transient or attempt == ATTEMPTS - 1:
                raise EmbeddingError(
                    f"{provider}: request failed (status {status}): {type(exc).__name__}"
                ) from exc
            time.sleep(min(0.5 * 2**attempt, 8.0))
    raise AssertionError("unreachable")


class _ProbedDimension:
    """Width from configuration, or learnt from one probe embedding (then cached)."""

    _dimension: int | None

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension


class HuggingFaceEmbedder(_ProbedDimension):
    """``huggingface_hub.InferenceClient.feature_extraction`` against the serverless API or an endpoint.

    Without ``url`` the model's serverless route is addressed directly
    (``<router>/hf-inference/models/<model>/pipeline/feature-extraction``), the same URL the
    client builds itself, which spares a Hub lookup of the model card per client.
    """

    def __init__(self, config: EmbeddingConfig) -> None:
        default = f"{INFERENCE_PROXY_TEMPLATE.format(provider='hf-inference')}/models/{config.model}"
        self.endpoint = config.url or f"{default}/pipeline/feature-extraction"
        self._client = InferenceClient(model=self.endpoint, token=config.token, timeout=config.timeout)
        self._model = config.model
        self._batch_size = config.batch_size
        self._dimension = config.dimension

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for batch in batched(texts, self._batch_size):
            rows = _retrying(partial(self._client.feature_extraction, list(batch)), "huggingface", _hf_status)
            out.extend(_unit_rows(rows, len(batch), "huggingface"))
        return out


def _hf_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) if isinstance(exc, HfHubHTTPError) else None
    return getattr(response, "status_code", None)


class TeiEmbedder(_ProbedDimension):
    """``POST {url}/embed {"inputs": [...], "truncate": true}`` on a text-embeddings-inference server.

    TEI answers 413 when a request holds more inputs than its ``--max-client-batch-size``;
    the batch is then split in half and sent again rather than failing the sync.
    """

    def __init__(self, config: EmbeddingConfig, client: httpx.Client | None = None) -> None:
        if not config.url:
            raise ValueError("the tei provider needs CVERAG_EMBEDDING_URL (the TEI server's base URL)")
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        self._http = client or httpx.Client(base_url=config.url, headers=headers, timeout=config.timeout)
        self._model = config.model
        self._batch_size = config.batch_size
        self._dimension = config.dimension

    @property
    def model(self) -> str:
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for batch in batched(texts, self._batch_size):
            out.extend(self._embed_batch(batch))
        return out

    def _embed_batch(self, batch: Sequence[str]) -> list[list[float]]:
        def post() -> httpx.Response:
            response = self._http.post("/embed", json={"inputs": list(batch), "truncate": True})
            if response.status_code != 413:
                response.raise_for_status()
            return response

        response: httpx.Response = _retrying(post, "tei", _httpx_status)
        if response.status_code == 413 and len(batch) > 1:
            half = len(batch) // 2
            return self._embed_batch(batch[:half]) + self._embed_batch(batch[half:])
        if response.status_code == 413:
            raise EmbeddingError("tei: the server refused even a single input as too large (413)")
        return _unit_rows(response.json(), len(batch), "tei")


def _httpx_status(exc: Exception) -> int | None:
    return exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
