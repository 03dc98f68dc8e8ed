"""A local embedding service speaking two documented protocols, backed by a real encoder.

* Hugging Face Inference API, feature extraction: ``POST /hf-inference/models/<model>/pipeline/
  feature-extraction`` with ``{"inputs": [...], ...parameters}`` and a ``Bearer`` token, answering
  one vector per input — the route ``huggingface_hub.InferenceClient`` calls on the router
  (and, with a full URL as ``model``, on a dedicated Inference Endpoint).  503 while "loading"
  is what the API answers for a cold model.
* text-embeddings-inference: ``POST /embed`` with ``{"inputs": [...], "normalize", "truncate"}``
  answering a list of vectors, and 413 when a request has more inputs than
  ``max_client_batch_size`` (TEI's ``--max-client-batch-size``, default 32).

Vectors come from the ``encode`` function the test passes (the real local MiniLM), scaled by
``scale`` so a client that forgets to normalise is caught.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.fakes.json_http import JsonHttpServer, Reply, Request

HF_PREFIX = "/hf-inference/models/"
HF_SUFFIX = "/pipeline/feature-extraction"


class FakeEmbeddingService:
    def __init__(
        self,
        encode: Callable[[list[str]], list[list[float]]],
        token: str | None = None,
        max_client_batch_size: int = 32,
        scale: float = 1.0,
    ) -> None:
        self.encode = encode
        self.token = token
        self.max_client_batch_size = max_client_batch_size
        self.scale = scale
        self.requests: list[Request] = []
        self.loading_replies = 0  # answer this many next requests with 503 "model is loading"
        self._lock = threading.Lock()
        self._server = JsonHttpServer(self._handle)

    def start(self) -> FakeEmbeddingService:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeEmbeddingService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def hf_model_url(self, model: str) -> str:
        return f"{self.base_url}{HF_PREFIX}{model}{HF_SUFFIX}"

    def _handle(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
                return Reply(401, {"error": "Invalid credentials in Authorization header"})
            if self.loading_replies > 0:
                self.loading_replies -= 1
                return Reply(503, {"error": "Model is currently loading", "estimated_time": 0.1})
        body: dict[str, Any] = request.json or {}
        if request.method == "POST" and request.path == "/embed":
            return self._tei(body)
        if (
            request.method == "POST"
            and request.path.startswith(HF_PREFIX)
            and request.path.endswith(HF_SUFFIX)
        ):
            return self._vectors(body.get("inputs"))
        return Reply(404, {"error": f"no route {request.method} {request.path}"})

    def _tei(self, body: dict[str, Any]) -> Reply:
        inputs = body.get("inputs")
        count = len(inputs) if isinstance(inputs, list) else 1
        if count > self.max_client_batch_size:
            message = f"batch size {count} > maximum allowed batch size {self.max_client_batch_size}"
            return Reply(413, {"error": message, "error_type": "Validation"})
        return self._vectors(inputs)

    def _vectors(self, inputs: Any) -> Reply:
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return Reply(422, {"error": "inputs must be a string or a non-empty list of strings"})
        vectors = [[x * self.scale for x in v] for v in self.encode(texts)]
        return Reply(200, vectors[0] if isinstance(inputs, str) else vectors)
