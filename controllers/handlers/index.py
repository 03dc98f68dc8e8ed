"""CveIndex: refuse a dimension the model cannot produce, create the index, run the sync, measure it.

Order matters: the store's schema must exist (the sync reads ``cve_versions``), then the
operator creates the vector index with the spec's shape (so HNSW parameters, Pinecone
cloud/region/metric are the spec's, not whatever the first sync pod would pick), and only
then starts the sync workload.  ``IndexReady`` says whether the index exists with the right
shape; ``Synced`` whether every store version is indexed.  An index that has completed a
pass and is catching up with new versions stays Ready (reason ``CatchingUp``); one still on
its first pass is not, because a RAG endpoint on it would miss most records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import psycopg

from controllers.api.common import DeletionPolicy
from controllers.api.index import CveIndex, CveIndexStatus
from controllers.api.store import CveStore
from controllers.api.times import rfc3339
from controllers.clients import credentials, kube
from controllers.clients.objects import Rollout
from controllers.dataplane import index_backend, stores
from controllers.handlers import network
from controllers.handlers.outcome import Outcome, merged, summarise
from controllers.machinery import events, rest
from controllers.machinery.conditions import Cond
from controllers.manifests.index import service_account, sync_cronjob, sync_deployment, sync_name

INDEX_READY = "IndexReady"
SYNCED = "Synced"
PARTS = (INDEX_READY, SYNCED)
PROGRESSING = frozenset({"WaitingForStore", "InitialSync", "CatchingUp", "SyncStarting"})
READY_WHILE = frozenset({"CatchingUp"})


class Blocked(Exception):
    """The index cannot get further; ``reason`` goes on both conditions."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def reconcile(body: Mapping[str, Any]) -> Outcome[CveIndexStatus]:
    index = CveIndex.from_body(body)
    status = CveIndexStatus(backend=index.spec.backend.type)
    try:
        store, found = _prepare(index)
    except Blocked as exc:
        conds = [Cond(INDEX_READY, False, exc.reason, str(exc)), Cond(SYNCED, False, exc.reason, str(exc))]
        return summarise(Outcome(status, conds), body, PARTS, "UpToDate", PROGRESSING, READY_WHILE)
    exists = Cond(INDEX_READY, True, "IndexExists", _describe(index))
    kube.apply(service_account(index), body)
    network.for_index(index, store, body)
    workload = _apply_sync(index, store, body)
    synced, measured = _synced(index, found, workload)
    out = Outcome(merged(status, measured), [exists, synced])
    return summarise(out, body, PARTS, "UpToDate", PROGRESSING, READY_WHILE)


def _store(index: CveIndex) -> CveStore:
    ns, ref = index.metadata.namespace, index.spec.store_ref.name
    store = kube.referenced(CveStore, ns, ref)
    if store is None:
        raise Blocked("StoreNotFound", f"CveStore {ref!r} not found in namespace {ns!r} (spec.storeRef)")
    return store


def settings_for(index: CveIndex, store: CveStore) -> index_backend.IndexSettings:
    """Backend settings with the credentials read from the Secrets the specs name."""
    ns = index.metadata.namespace
    conninfo = credentials.postgres_conninfo(ns, store.spec.postgres)
    pc = index.spec.backend.pinecone
    key = ""
    if index.spec.backend.type == "pinecone" and pc is not None:
        key = credentials.secret_key(ns, pc.api_key_secret_ref, "spec.backend.pinecone.apiKeySecretRef")
    return index_backend.settings(index, conninfo, store.spec.postgres.schema_, key)


def _prepare(index: CveIndex) -> tuple[CveStore, index_backend.IndexSettings]:
    """Everything before the sync may start: shape check, store schema, the index itself."""
    expected, model = index_backend.expected_dimension(index)
    dimension = index.spec.embedding.dimension
    if expected is not None and expected != dimension:
        raise Blocked(
            "DimensionMismatch",
            f"spec.embedding.dimension is {dimension} but {model} produces {expected}-d vectors; "
            f"the field is immutable, so create the CveIndex again with dimension {expected}",
        )
    store = _store(index)
    try:
        found = settings_for(index, store)
    except credentials.MissingSecret as exc:
        raise Blocked("SecretNotFound", str(exc)) from None
    try:
        if stores.store_facts(found.store.dsn, found.store.schema, with_counts=False).schema_version == 0:
            raise Blocked("WaitingForStore", f"store schema {found.store.schema!r} is not migrated yet")
        index_backend.ensure(index, found)
    except index_backend.IndexShapeMismatch as exc:
        raise Blocked("IndexShapeMismatch", str(exc)) from None
    except psycopg.Error as exc:
        raise Blocked("DatabaseUnreachable", f"PostgreSQL did not answer ({type(exc).__name__})") from None
    except Blocked:
        raise
    except Exception as exc:  # the Pinecone SDK raises its own and urllib3's errors; all mean "not reachable"
        raise Blocked(
            "BackendUnreachable", f"{index.spec.backend.type}: {type(exc).__name__}: {exc}"
        ) from None
    return store, found


def _describe(index: CveIndex) -> str:
    spec = index.spec
    if spec.backend.type == "pinecone" and spec.backend.pinecone is not None:
        pc = spec.backend.pinecone
        where = f"Pinecone index {pc.index_name} ({pc.cloud}/{pc.region}, {pc.metric})"
    else:
        pg = spec.backend.pgvector
        where = f"pgvector table {pg.table} (HNSW m={pg.m}, ef_construction={pg.ef_construction})"
    return f"{where}, {spec.embedding.dimension}-d {spec.embedding.model}"


def _apply_sync(index: CveIndex, store: CveStore, owner: Mapping[str, Any]) -> Rollout | None:
    """The sync Deployment (and its rollout), or the CronJob when a schedule is set; the other
    kind is removed."""
    ns, name = index.metadata.namespace, sync_name(index)
    if index.spec.sync.schedule:
        kube.delete("apps/v1", "Deployment", ns, name)
        kube.apply(sync_cronjob(index, store), owner)
        return None
    kube.delete("batch/v1", "CronJob", ns, name)
    return Rollout.of(kube.apply(sync_deployment(index, store), owner))


def _synced(
    index: CveIndex, found: index_backend.IndexSettings, workload: Rollout | None
) -> tuple[Cond, CveIndexStatus]:
    """Synced, and the vectors, lag and synced-through time it was judged from."""
    try:
        facts = index_backend.facts(index, found)
    except psycopg.Error as exc:
        message = f"PostgreSQL did not answer ({type(exc).__name__})"
        return Cond(SYNCED, False, "DatabaseUnreachable", message), CveIndexStatus()
    except Exception as exc:  # Pinecone SDK / network errors while counting
        return Cond(SYNCED, False, "BackendUnreachable", f"{type(exc).__name__}: {exc}"), CveIndexStatus()
    status = CveIndexStatus(vectors=facts.vectors, lag=facts.lag)
    if facts.synced_through is not None:
        status.synced_through = rfc3339(facts.synced_through)
    if workload is not None and workload.stuck:
        return Cond(SYNCED, False, "SyncStuck", f"Deployment {workload.name} stopped progressing"), status
    if facts.lag == 0:
        message = f"{facts.vectors} vectors; every store version is indexed"
        return Cond(SYNCED, True, "UpToDate", message), status
    if facts.cursor == 0:
        return Cond(SYNCED, False, "InitialSync", f"first pass: {facts.lag} store versions to index"), status
    return Cond(SYNCED, False, "CatchingUp", f"{facts.lag} store versions not yet indexed"), status


def delete(body: Mapping[str, Any]) -> None:
    """Retain: the vectors stay.  Delete: stop the sync first, then drop the table or the index."""
    index = CveIndex.from_body(body)
    if index.spec.deletion_policy is not DeletionPolicy.DELETE:
        return
    ns, name = index.metadata.namespace, sync_name(index)
    kube.delete("apps/v1", "Deployment", ns, name, propagation="Foreground")
    kube.delete("batch/v1", "CronJob", ns, name, propagation="Foreground")
    try:
        found = settings_for(index, _store(index))
    except (Blocked, credentials.MissingSecret) as exc:
        events.post(rest.default(), dict(body), "Warning", "IndexLeft", f"cannot drop the index: {exc}")
        return
    try:
        index_backend.drop(index, found)
    except Exception as exc:  # unreachable database or Pinecone: kopf retries the finalizer
        raise kopf.TemporaryError(f"index not dropped yet: {type(exc).__name__}: {exc}", delay=15) from exc
