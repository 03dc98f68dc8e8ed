"""Invalid resources are refused by the API server itself, with a message naming the problem.

Each case is a valid quickstart resource with one thing broken, either at creation or as an
update of an existing resource (the ``oldSelf`` rules: immutable fields, growing partitions).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controllers.api import GROUP, KINDS, VERSION
from tests.support.kube import load_yaml_docs

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"
PLURALS = {k.kind: k.plural for k in KINDS}


def quickstart(kind: str) -> dict[str, Any]:
    for path in sorted(QUICKSTART.glob("*.yaml")):
        for doc in load_yaml_docs(path):
            if doc["kind"] == kind:
                return doc
    raise LookupError(kind)


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value


DELETE = object()


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    changes: dict[str, Any]
    message: str
    update: bool = False  # applied as a change to an existing valid resource
    status: int = 422  # strict decoding of unknown fields answers 400 Bad Request


CASES = [
    Case("two-sources", "CveFeed", {"spec.source.nvd": {}}, "exactly one of cvelistV5, nvd or file"),
    Case("no-source", "CveFeed", {"spec.source": {}}, "exactly one of cvelistV5, nvd or file"),
    Case("negative-partitions", "CveFeed", {"spec.kafka.topic.partitions": -3}, "greater than or equal to 1"),
    Case(
        "shrink-partitions", "CveFeed", {"spec.kafka.topic.partitions": 2}, "partitions may only grow", True
    ),
    Case("rename-topic", "CveFeed", {"spec.kafka.topic.name": "other"}, "topic.name is immutable", True),
    Case("malformed-since", "CveFeed", {"spec.since": "last tuesday"}, "spec.since"),
    Case("bad-poll-interval", "CveFeed", {"spec.pollInterval": "15 minutes"}, "spec.pollInterval"),
    Case("bad-topic-name", "CveFeed", {"spec.kafka.topic.name": "cve records"}, "spec.kafka.topic.name"),
    Case(
        "isr-above-rf",
        "CveFeed",
        {"spec.kafka.topic.minInSyncReplicas": 2},
        "cannot exceed replicationFactor",
    ),
    Case(
        "nvd-page-size", "CveFeed", {"spec.source": {"nvd": {"pageSize": 5000}}}, "less than or equal to 2000"
    ),
    Case(
        "bad-cleanup-policy",
        "CveFeed",
        {"spec.kafka.topic.cleanupPolicy": "forever"},
        'Unsupported value: "forever"',
    ),
    Case("unknown-field", "CveFeed", {"spec.colour": "blue"}, 'unknown field "spec.colour"', status=400),
    Case(
        "store-min-over-max",
        "CveStore",
        {"spec.consumer.minReplicas": 9},
        "minReplicas must not exceed maxReplicas",
    ),
    Case("store-two-dsns", "CveStore", {"spec.postgres.host": "db"}, "exactly one of dsnSecretRef or host"),
    Case(
        "store-host-no-credentials",
        "CveStore",
        {"spec.postgres": {"host": "db"}},
        "needs credentialsSecretRef",
    ),
    Case("store-last-without-n", "CveStore", {"spec.versioning.keep": "Last"}, "keep Last needs lastN"),
    Case("store-bad-keep", "CveStore", {"spec.versioning.keep": "Some"}, 'Unsupported value: "Some"'),
    Case("store-feedref-change", "CveStore", {"spec.feedRef.name": "other"}, "feedRef is immutable", True),
    Case(
        "store-schema-change",
        "CveStore",
        {"spec.postgres.schema": "other"},
        "postgres.schema is immutable",
        True,
    ),
    Case(
        "store-secret-without-key",
        "CveStore",
        {"spec.postgres.dsnSecretRef.key": DELETE},
        "key: Required value",
    ),
    Case(
        "index-bad-provider", "CveIndex", {"spec.embedding.provider": "openai"}, 'Unsupported value: "openai"'
    ),
    Case(
        "index-backend-change",
        "CveIndex",
        {"spec.backend.type": "pinecone"},
        "backend.type is immutable",
        True,
    ),
    Case(
        "index-dimension-change",
        "CveIndex",
        {"spec.embedding.dimension": 768},
        "dimension is immutable",
        True,
    ),
    Case(
        "index-pinecone-no-settings", "CveIndex", {"spec.backend.type": "pinecone"}, "needs backend.pinecone"
    ),
    Case("index-tei-no-endpoint", "CveIndex", {"spec.embedding.provider": "tei"}, "tei needs endpoint"),
    Case("rag-external-no-url", "RagEndpoint", {"spec.llm.engine": "external"}, "external needs llm.url"),
    Case(
        "rag-api-min-over-max", "RagEndpoint", {"spec.api.minReplicas": 7}, "api.minReplicas must not exceed"
    ),
    Case(
        "rag-pdb-both",
        "RagEndpoint",
        {"spec.availability.pdb.minAvailable": 1},
        "exactly one of minAvailable",
    ),
    Case(
        "rag-bad-spread", "RagEndpoint", {"spec.availability.zoneSpread.whenUnsatisfiable": "Maybe"}, "Maybe"
    ),
    Case("rag-too-many-gpus", "RagEndpoint", {"spec.llm.gpu.count": 99}, "less than or equal to 16"),
    Case("missing-spec", "RagEndpoint", {"spec": DELETE}, "spec: Required value"),
]


def _create(api: client.CustomObjectsApi, namespace: str, doc: dict[str, Any]) -> Any:
    return api.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURALS[doc["kind"]], doc, field_validation="Strict"
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_invalid_resource_is_rejected(
    kube: client.ApiClient, cverag_crds: Any, namespace: str, case: Case
) -> None:
    api = client.CustomObjectsApi(kube)
    doc = quickstart(case.kind)
    broken = copy.deepcopy(doc)
    for path, value in case.changes.items():
        put(broken, path, value)
    with pytest.raises(ApiException) as raised:
        if case.update:
            _create(api, namespace, doc)
            api.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[case.kind], doc["metadata"]["name"], broken
            )
        else:
            _create(api, namespace, broken)
    error = raised.value
    assert error.status == case.status, error.body
    message = json.loads(error.body)["message"]
    assert case.message in message, message
