"""Vector stores behind one protocol: pgvector (the default, beside the CVE store) or Pinecone.

A backend holds one collection of ``(id, vector, metadata)`` items of a fixed width and
metric.  Scores follow Pinecone's convention in every backend so callers never branch on the
backend: cosine similarity and dot product (higher is closer) and squared euclidean distance
(lower is closer); results always come best first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Metric = Literal["cosine", "dotproduct", "euclidean"]
METRICS: tuple[Metric, ...] = ("cosine", "dotproduct", "euclidean")
Metadata = Mapping[str, Any]
Item = tuple[str, Sequence[float], Metadata]
Filter = Mapping[str, Any]


@dataclass(frozen=True)
class Match:
    """One query result: the item's id, its score under the metric, and its metadata."""

    id: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


class BackendError(RuntimeError):
    """The backend refused an operation; the message says what to change."""


class IndexShapeMismatch(BackendError):
    """An existing index has another dimension or metric than the one configured."""


@runtime_checkable
class VectorBackend(Protocol):
    def ensure(self, dimension: int, metric: Metric = "cosine") -> None:
        """Create the index if missing; fail with IndexShapeMismatch if it exists with another shape."""

    def upsert(self, items: Sequence[Item]) -> int:
        """Insert or replace items by id; returns how many were written."""

    def delete(self, ids: Sequence[str]) -> None:
        """Remove items by id; unknown ids are ignored."""

    def query(self, vector: Sequence[float], top_k: int, filter: Filter | None = None) -> list[Match]:
        """The ``top_k`` nearest items, best first, optionally restricted by a metadata filter."""

    def count(self) -> int:
        """How many items the index holds."""

    def drop(self) -> None:
        """Delete the whole index; a missing index is not an error."""


def check_metric(metric: str) -> Metric:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return metric
