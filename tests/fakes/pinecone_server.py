"""A local Pinecone: the control-plane and vector data-plane REST calls the 10.x SDK makes.

Pinecone's cloud is out of reach here, so the real ``pinecone`` SDK is pointed at this server
(``Pinecone(host=fake.control_url)``).  Like the service, every index gets its own host: a
second listener on its own port, returned as ``host`` in the 2026-07 ``IndexModel`` so the
SDK's data-plane client calls it exactly as it would call ``<index>.svc.pinecone.io``.
Calls implemented (API version 2026-07, the one the SDK sends): ``POST/GET /indexes``,
``GET/DELETE /indexes/{name}``; on an index host ``POST /vectors/upsert``, ``/query``,
``/vectors/delete``, ``/describe_index_stats``.  Search is exact (cosine, dotproduct, squared
euclidean, as Pinecone scores them); every request is recorded for assertions.  A created
index reports ``Initializing`` until it has been described once, so the SDK's wait-until-ready
loop runs without sleeping.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.fakes.json_http import JsonHttpServer, Reply, Request
from tests.fakes.pinecone_filter import matches as filter_matches

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
METRICS = ("cosine", "dotproduct", "euclidean")


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}, "status": status})


def _data_error(status: int, message: str) -> Reply:
    return Reply(status, {"code": 3 if status == 400 else 5, "message": message, "details": []})


@dataclass
class FakeIndex:
    name: str
    dimension: int
    metric: str
    deployment: dict[str, Any]
    server: JsonHttpServer
    describes: int = 0
    namespaces: dict[str, dict[str, tuple[np.ndarray[Any, Any], dict[str, Any]]]] = field(
        default_factory=dict
    )

    @property
    def host(self) -> str:
        return self.server.base_url

    def model(self, ready: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "status": {"ready": ready, "state": "Ready" if ready else "Initializing"},
            "schema": {
                "fields": {
                    "_values": {"type": "dense_vector", "dimension": self.dimension, "metric": self.metric}
                }
            },
            "deployment": self.deployment,
            "deletion_protection": "disabled",
            "tags": None,
        }


class FakePinecone:
    def __init__(self, api_key: str = "fake-pinecone-key") -> None:
        self.api_key = api_key
        self.indexes: dict[str, FakeIndex] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._control = JsonHttpServer(lambda r: self._handle(r, None))

    def start(self) -> FakePinecone:
        self._control.start()
        return self

    def stop(self) -> None:
        for index in list(self.indexes.values()):
            index.server.stop()
        self._control.stop()

    def __enter__(self) -> FakePinecone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def control_url(self) -> str:
        return self._control.base_url

    def requests_to(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def _handle(self, request: Request, index: str | None) -> Reply:
        self.requests.append(request)
        if request.headers.get("api-key") != self.api_key:
            return _error(401, "UNAUTHENTICATED", "Invalid API Key")
        with self._lock:
            if index is None:
                return self._control_plane(request)
            target = self.indexes.get(index)
            if target is None:
                return _data_error(404, f"index {index} is gone")
            return _data_plane(target, request)

    def _control_plane(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if parts == ["indexes"] and request.method == "POST":
            return self._create(request.json or {})
        if parts == ["indexes"] and request.method == "GET":
            return Reply(200, {"indexes": [i.model(ready=i.describes > 0) for i in self.indexes.values()]})
        if len(parts) == 2 and parts[0] == "indexes":
            found = self.indexes.get(parts[1])
            if found is None:
                return _error(404, "NOT_FOUND", f"Resource {parts[1]} not found")
            if request.method == "GET":
                found.describes += 1
                return Reply(200, found.model(ready=True))
            if request.method == "DELETE":
                del self.indexes[parts[1]]
                found.server.stop()
                return Reply(202, None)
        return _error(404, "NOT_FOUND", f"no route {request.method} {request.path}")

    def _create(self, body: dict[str, Any]) -> Reply:
        name = body.get("name", "")
        fields = (body.get("schema") or {}).get("fields") or {}
        dense = fields.get("_values") or {}
        deployment = body.get("deployment") or {
            "deployment_type": "managed",
            "cloud": "aws",
            "region": "us-east-1",
        }
        if not NAME.match(name):
            return _error(400, "INVALID_ARGUMENT", f"invalid index name {name!r}")
        if dense.get("type") != "dense_vector" or not 1 <= int(dense.get("dimension", 0)) <= 20000:
            return _error(
                400, "INVALID_ARGUMENT", "this fake serves vector indexes: schema.fields._values dense_vector"
            )
        if dense.get("metric", "cosine") not in METRICS or deployment.get("deployment_type") != "managed":
            return _error(
                400, "INVALID_ARGUMENT", "metric must be cosine|dotproduct|euclidean on a managed deployment"
            )
        if name in self.indexes:
            return _error(409, "ALREADY_EXISTS", f"Resource {name} already exists")
        server = JsonHttpServer(lambda r: self._handle(r, name)).start()
        index = FakeIndex(name, int(dense["dimension"]), dense.get("metric", "cosine"), deployment, server)
        self.indexes[name] = index
        return Reply(201, index.model(ready=False))


def _data_plane(index: FakeIndex, request: Request) -> Reply:
    body = request.json or {}
    route = {
        "/vectors/upsert": _upsert,
        "/query": _query,
        "/vectors/delete": _delete,
        "/describe_index_stats": _stats,
    }.get(request.path)
    if request.method != "POST" or route is None:
        return _data_error(404, f"no route {request.method} {request.path}")
    return route(index, body)


def _upsert(index: FakeIndex, body: dict[str, Any]) -> Reply:
    vectors = body.get("vectors") or []
    if not 1 <= len(vectors) <= 1000:
        return _data_error(400, f"upsert takes 1..1000 vectors, got {len(vectors)}")
    staged = {}
    for v in vectors:
        values = np.asarray(v.get("values") or [], dtype=np.float32)
        if not v.get("id") or values.shape != (index.dimension,):
            return _data_error(
                400,
                f"Vector dimension {values.size} does not match the dimension of the index {index.dimension}",
            )
        staged[v["id"]] = (values, dict(v.get("metadata") or {}))
    index.namespaces.setdefault(body.get("namespace", ""), {}).update(staged)
    return Reply(200, {"upsertedCount": len(staged)})


def _score(index: FakeIndex, stored: np.ndarray[Any, Any], query: np.ndarray[Any, Any]) -> float:
    if index.metric == "euclidean":
        return float(((stored - query) ** 2).sum())
    dot = float(stored @ query)
    if index.metric == "dotproduct":
        return dot
    return dot / float(np.linalg.norm(stored) * np.linalg.norm(query) or 1.0)


def _query(index: FakeIndex, body: dict[str, Any]) -> Reply:
    query = np.asarray(body.get("vector") or [], dtype=np.float32)
    if query.shape != (index.dimension,):
        return _data_error(
            400,
            f"Query vector dimension {query.size} does not match the dimension of the index {index.dimension}",
        )
    namespace = body.get("namespace", "")
    try:
        candidates = [
            (vid, _score(index, values, query), metadata)
            for vid, (values, metadata) in index.namespaces.get(namespace, {}).items()
            if filter_matches(body.get("filter"), metadata)
        ]
    except ValueError as exc:  # Pinecone answers 400 for a filter it cannot parse
        return _data_error(400, str(exc))
    candidates.sort(key=lambda c: c[1], reverse=index.metric != "euclidean")
    matches = [
        {"id": vid, "score": score, "values": [], **({"metadata": md} if body.get("includeMetadata") else {})}
        for vid, score, md in candidates[: int(body.get("topK", 10))]
    ]
    return Reply(200, {"matches": matches, "namespace": namespace, "usage": {"readUnits": 1}})


def _delete(index: FakeIndex, body: dict[str, Any]) -> Reply:
    stored = index.namespaces.get(body.get("namespace", ""), {})
    if body.get("deleteAll"):
        stored.clear()
    for vid in body.get("ids") or []:
        stored.pop(vid, None)
    return Reply(200, {})


def _stats(index: FakeIndex, body: dict[str, Any]) -> Reply:
    namespaces = {
        ns or "__default__": {"vectorCount": len(items)} for ns, items in index.namespaces.items() if items
    }
    return Reply(
        200,
        {
            "namespaces": namespaces,
            "dimension": index.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(n["vectorCount"] for n in namespaces.values()),
            "metric": index.metric,
            "vectorType": "dense",
        },
    )
