"""Pinecone backend through the official SDK (10.x): a serverless ("managed") index, one namespace.

The index is created with a single dense field under the reserved name ``_values``: that is
the shape the vector API (``upsert``/``query``/``delete``/``describe_index_stats``) serves,
and exactly what the SDK's deprecated ``dimension=``/``metric=`` create arguments translate
to, declared here through the current ``schema=`` argument instead.  Upserts are sent in
batches this class makes itself, so a failed batch raises instead of being reported in a
response nobody reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pinecone import IndexModel, Pinecone

from workloads.index.backends import (
    BackendError,
    Filter,
    IndexShapeMismatch,
    Item,
    Match,
    Metric,
    check_metric,
)

VECTOR_FIELD = "_values"
DEFAULT_NAMESPACE_KEY = "__default__"


@dataclass(frozen=True)
class PineconeConfig:
    index_name: str
    api_key: str
    namespace: str = ""
    cloud: str = "aws"
    region: str = "us-east-1"
    control_host: str | None = None  # only for a non-default control plane (tests, private deployments)
    batch_size: int = 100
    ready_timeout: int = 300

    def __repr__(self) -> str:
        return (
            f"PineconeConfig(index_name={self.index_name!r}, namespace={self.namespace!r}, api_key=<hidden>)"
        )


class PineconeBackend:
    def __init__(self, config: PineconeConfig, client: Pinecone | None = None) -> None:
        self.config = config
        self._pc = client or Pinecone(api_key=config.api_key, host=config.control_host)
        self._index: Any = None

    def _data_plane(self) -> Any:
        if self._index is None:
            if not self._pc.indexes.exists(self.config.index_name):
                raise BackendError(f"Pinecone index {self.config.index_name!r} does not exist: call ensure()")
            self._index = self._open(self._pc.indexes.describe(self.config.index_name))
        return self._index

    def ensure(self, dimension: int, metric: Metric = "cosine") -> None:
        metric = check_metric(metric)
        name = self.config.index_name
        if self._pc.indexes.exists(name):
            model = self._pc.indexes.describe(name)
            field = model.schema.fields.get(VECTOR_FIELD)
            shape = (getattr(field, "dimension", None), getattr(field, "metric", None))
            if shape != (dimension, metric):
                raise IndexShapeMismatch(
                    f"Pinecone index {name!r} has dense field {shape}, configured ({dimension}, {metric!r}): "
                    "drop it to rebuild"
                )
        else:
            model = self._pc.indexes.create(
                name=name,
                schema={
                    "fields": {
                        VECTOR_FIELD: {"type": "dense_vector", "dimension": dimension, "metric": metric}
                    }
                },
                deployment={
                    "deployment_type": "managed",
                    "cloud": self.config.cloud,
                    "region": self.config.region,
                },
                timeout=self.config.ready_timeout,
            )
        self._index = self._open(model)

    def _open(self, model: IndexModel) -> Any:
        if not model.host:
            raise BackendError(f"Pinecone index {model.name!r} has no host yet (status {model.status.state})")
        return self._pc.index(host=model.host)

    def upsert(self, items: Sequence[Item]) -> int:
        index = self._data_plane()
        written = 0
        for start in range(0, len(items), self.config.batch_size):
            batch = [
                {"id": i, "values": [float(x) for x in v], "metadata": dict(m)}
                for i, v, m in items[start : start + self.config.batch_size]
            ]
            written += int(index.upsert(vectors=batch, namespace=self.config.namespace).upserted_count)
        return written

    def delete(self, ids: Sequence[str]) -> None:
        index = self._data_plane()
        for start in range(0, len(ids), 1000):  # the API's cap on ids per delete request
            index.delete(ids=list(ids[start : start + 1000]), namespace=self.config.namespace)

    def query(self, vector: Sequence[float], top_k: int, filter: Filter | None = None) -> list[Match]:
        response = self._data_plane().query(
            vector=[float(x) for x in vector],
            top_k=top_k,
            namespace=self.config.namespace,
            filter=dict(filter) if filter else None,
            include_metadata=True,
        )
        return [Match(m.id, float(m.score), dict(m.metadata or {})) for m in response.matches]

    def count(self) -> int:
        stats = self._data_plane().describe_index_stats()
        # The default namespace is reported as "__default__" (older API versions said "").
        keys = [self.config.namespace] if self.config.namespace else [DEFAULT_NAMESPACE_KEY, ""]
        summary = next((stats.namespaces[k] for k in keys if k in stats.namespaces), None)
        return int(summary.vector_count) if summary is not None else 0

    def clear_namespace(self) -> None:
        """Delete every vector of this backend's namespace and keep the index, which other
        namespaces (other stores) may share; nothing to do when the index is already gone."""
        try:
            index = self._data_plane()
        except BackendError:
            return
        index.delete(delete_all=True, namespace=self.config.namespace)

    def drop(self) -> None:
        if self._pc.indexes.exists(self.config.index_name):
            self._pc.indexes.delete(self.config.index_name, timeout=self.config.ready_timeout)
        self._index = None
