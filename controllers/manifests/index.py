"""Children of a CveIndex: the sync workload, as a Deployment or (with ``spec.sync.schedule``) a CronJob.

The sync pod runs ``python -m workloads.index sync`` against the store's database with the
store's own PostgreSQL env (:func:`controllers.manifests.store.postgres_env`), so the index
and the store can never disagree about where the data is.  Every credential (database,
Pinecone key, Hugging Face token) reaches the pod only as a ``secretKeyRef``.  The same
:func:`index_env` configures the RAG API, which must embed questions with the model the
index was built with.  Nothing volatile goes into a pod template: applying an unchanged
spec is a no-op and never restarts the sync.
"""

from __future__ import annotations

import math

from controllers.api.common import Resources
from controllers.api.index import CveIndex
from controllers.api.store import CveStore
from controllers.api.times import seconds
from controllers.dataplane.contract import IndexSettings
from controllers.manifests import common
from controllers.manifests.common import (
    Manifest,
    child_name,
    labels,
    metadata,
    resources,
    secret_setting,
    selector,
    setting,
)
from controllers.manifests.store import container, pod_spec, postgres_env

KIND = "CveIndex"
SYNC = "cve-index-sync"


def sync_name(index: CveIndex) -> str:
    return child_name(index.metadata.name, "sync")


def cpu_threads(resources: Resources) -> int:
    """Threads for in-process embedding: the CPU limit (else request), rounded up, at least 1.

    onnxruntime sees the node's cores, not the pod's quota; more threads than the quota
    only adds throttling."""
    spec = (resources.limits or {}).get("cpu") or (resources.requests or {}).get("cpu") or 1
    text = str(spec)
    cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return max(1, math.ceil(cores))


def index_env(index: CveIndex, threads: int, program: type[IndexSettings] = IndexSettings) -> list[Manifest]:
    """Backend and embedding settings shared by the sync workload and the RAG API (``program``:
    the RAG API's settings extend the index's)."""
    spec, emb = index.spec, index.spec.embedding
    out = [*setting(program, "backend", spec.backend.type)]
    if spec.backend.type == "pinecone" and spec.backend.pinecone is not None:
        pc = spec.backend.pinecone
        out += [
            *secret_setting(program, "pinecone_api_key", pc.api_key_secret_ref),
            *setting(program, "pinecone_index", pc.index_name),
            *setting(program, "pinecone_namespace", pc.namespace or None),
            *setting(program, "pinecone_cloud", pc.cloud),
            *setting(program, "pinecone_region", pc.region),
            *setting(program, "pinecone_host", pc.host),
            *setting(program, "metric", pc.metric),
        ]
    else:
        out += [
            *setting(program, "table", spec.backend.pgvector.table),
            *setting(program, "hnsw_m", spec.backend.pgvector.m),
            *setting(program, "hnsw_ef_construction", spec.backend.pgvector.ef_construction),
        ]
    token = {"huggingface": "hf_token", "tei": "tei_token"}.get(emb.provider)
    out += [
        *setting(program, "embedding_provider", emb.provider),
        *setting(program, "embedding_model", emb.model),
        *setting(program, "embedding_dimension", emb.dimension),
        *setting(program, "embedding_url", emb.endpoint),
        *(secret_setting(program, token, emb.token_secret_ref) if token else []),
        *setting(program, "embedding_threads", threads if emb.provider == "local" else None),
    ]
    return out


def sync_env(index: CveIndex, store: CveStore) -> list[Manifest]:
    return [
        *postgres_env(store, IndexSettings),
        *index_env(index, cpu_threads(index.spec.sync.resources)),
        *setting(IndexSettings, "batch_size", index.spec.sync.batch_size),
        *setting(IndexSettings, "metrics_port", common.METRICS_PORT),
    ]


def _sync_container(index: CveIndex, store: CveStore, args: list[str]) -> Manifest:
    main = container(
        "sync", ["python", "-m", "workloads.index", "sync", *args], sync_env(index, store), store
    )
    return {
        **main,
        "image": index.spec.image,
        "resources": resources(index.spec.sync.resources),
        "ports": [common.METRICS_CONTAINER_PORT],
    }


def _pod(index: CveIndex, store: CveStore, main: Manifest, restart: str) -> Manifest:
    return {
        **pod_spec(store, main, restart),
        "serviceAccountName": service_account_name(index),
        "terminationGracePeriodSeconds": 120,
    }


def service_account_name(index: CveIndex) -> str:
    return child_name(index.metadata.name, "index")


def service_account(index: CveIndex) -> Manifest:
    """The sync pods' own identity, with no API token: the data plane never calls Kubernetes."""
    return common.service_account(
        service_account_name(index), index.metadata.namespace, labels(KIND, index.metadata.name, "cve-index")
    )


def sync_deployment(index: CveIndex, store: CveStore) -> Manifest:
    """One long-running sync pod (``--interval``); Recreate, because two syncers of one index
    would embed the same documents twice."""
    interval = f"{seconds(index.spec.sync.interval):g}"
    main = _sync_container(index, store, ["--interval", interval])
    pod_labels = labels(KIND, index.metadata.name, SYNC)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(sync_name(index), index.metadata.namespace, pod_labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector(KIND, index.metadata.name, SYNC)},
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "template": {"metadata": {"labels": pod_labels}, "spec": _pod(index, store, main, "Always")},
        },
    }


def sync_cronjob(index: CveIndex, store: CveStore) -> Manifest:
    """One pass (``--once``) per schedule; Forbid, so a slow pass is never run twice at once."""
    assert index.spec.sync.schedule is not None
    main = _sync_container(index, store, ["--once"])
    pod_labels = labels(KIND, index.metadata.name, SYNC)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(sync_name(index), index.metadata.namespace, pod_labels),
        "spec": {
            "schedule": index.spec.sync.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": _pod(index, store, main, "OnFailure"),
                    },
                }
            },
        },
    }
