"""RagEndpoint: the LLM server, the RAG API wired to the store, the index and the LLM, and its URL.

The LLM is deployed whatever state the index is in (loading a model takes minutes; there
is no reason to wait), and so is the API, whose readiness probe keeps it out of its Service
until the store and the index answer.  ``APIReady`` is False with ``IndexNotReady`` while
the CveIndex is not Ready, and the endpoint becomes Ready by itself when it is.  Everything
is server-side applied each time, so only a changed template rolls a Deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.api.common import ConditionStatus
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint, RagEndpointStatus
from controllers.api.store import CveStore
from controllers.clients import credentials, kube
from controllers.clients.objects import Rollout
from controllers.handlers import network, rag_llm
from controllers.handlers.outcome import Outcome, merged, summarise
from controllers.machinery.conditions import Cond
from controllers.manifests.common import Manifest
from controllers.manifests.rag import (
    API,
    api_deployment,
    api_name,
    companions,
    service_account,
    service_account_name,
)
from controllers.manifests.rag_exposure import certificate, ingress, tls_secret_name, url

API_READY = "APIReady"
LLM_READY = rag_llm.LLM_READY
PARTS = (API_READY, LLM_READY)
PROGRESSING = frozenset(
    {
        "IndexNotReady",
        "ModelLoading",
        "WaitingForGPU",
        "WaitingForModelCache",
        "Starting",
        "RolloutInProgress",
    }
)
READY_WHILE = frozenset({"RollingOut"})
CERT_MANAGER = "cert-manager.io/v1"


def reconcile(body: Mapping[str, Any]) -> Outcome[RagEndpointStatus]:
    rag = RagEndpoint.from_body(body)
    status = RagEndpointStatus(url=url(rag))
    try:
        _check_secrets(rag)
    except credentials.MissingSecret as exc:
        conds = [
            Cond(API_READY, False, "SecretNotFound", str(exc)),
            Cond(LLM_READY, False, "SecretNotFound", str(exc)),
        ]
        return summarise(Outcome(status, conds), body, PARTS, "Serving", PROGRESSING, READY_WHILE)
    kube.apply(service_account(rag), body)
    llm, served = rag_llm.converge(rag, body, service_account_name(rag))
    api, ready = _api(rag, body)
    out = Outcome(merged(status, served, ready), [llm, api])
    return summarise(out, body, PARTS, "Serving", PROGRESSING, READY_WHILE)


def _check_secrets(rag: RagEndpoint) -> None:
    """Secrets the pods will read exist with their keys (else pods would sit in CreateContainerConfigError)."""
    ns, llm = rag.metadata.namespace, rag.spec.llm
    credentials.optional_key(ns, rag.spec.api.api_key_secret_ref, "spec.api.apiKeySecretRef")
    if llm.engine == "vllm":
        credentials.optional_key(ns, llm.hf_token_secret_ref, "spec.llm.hfTokenSecretRef")
    if llm.engine == "external":
        credentials.optional_key(ns, llm.api_key_secret_ref, "spec.llm.apiKeySecretRef")


def _api(rag: RagEndpoint, owner: Mapping[str, Any]) -> tuple[Cond, RagEndpointStatus]:
    """Apply the API with its index and store: APIReady, and its ready pods once deployed."""
    ns, ref = rag.metadata.namespace, rag.spec.index_ref.name
    index = kube.referenced(CveIndex, ns, ref)
    if index is None:
        message = f"CveIndex {ref!r} not found in namespace {ns!r} (spec.indexRef)"
        return Cond(API_READY, False, "IndexNotFound", message), RagEndpointStatus()
    store_ref = index.spec.store_ref.name
    store = kube.referenced(CveStore, ns, store_ref)
    if store is None:
        message = f"CveStore {store_ref!r} of CveIndex {ref!r} not found"
        return Cond(API_READY, False, "StoreNotFound", message), RagEndpointStatus()
    network.for_rag(rag, store, owner)
    deployment = Rollout.of(kube.apply(api_deployment(rag, index, store), owner))
    for manifest in companions(rag, API):
        kube.apply(manifest, owner)
    _exposure(rag, owner)
    status = RagEndpointStatus(ready_replicas=deployment.ready)
    ready = next((c for c in index.status.conditions if c.type == "Ready"), None)
    if ready is None or ready.status is not ConditionStatus.TRUE:
        detail = f"{ready.reason}: {ready.message}" if ready else "not reconciled yet"
        return Cond(API_READY, False, "IndexNotReady", f"CveIndex {ref!r} is not Ready ({detail})"), status
    return _rollout(deployment), status


def _rollout(deployment: Rollout) -> Cond:
    name, ready, wanted, updated = deployment.name, deployment.ready, deployment.wanted, deployment.updated
    if ready == 0:
        return Cond(API_READY, False, "RolloutInProgress", f"no pod of Deployment {name} is ready yet")
    reason = "Serving" if deployment.done else "RollingOut"
    return Cond(API_READY, True, reason, f"{ready} of {wanted} API pods ready, {updated} updated")


def _exposure(rag: RagEndpoint, owner: Mapping[str, Any]) -> None:
    """Ingress when asked for, and its Certificate when cert-manager is installed; else neither."""
    ns = rag.metadata.namespace
    _apply_or_delete(ingress(rag), "networking.k8s.io/v1", "Ingress", ns, api_name(rag), owner)
    if kube.served(CERT_MANAGER, "certificates"):
        _apply_or_delete(certificate(rag), CERT_MANAGER, "Certificate", ns, tls_secret_name(rag), owner)


def _apply_or_delete(
    manifest: Manifest | None, api_version: str, kind: str, ns: str, name: str, owner: Mapping[str, Any]
) -> None:
    if manifest is None:
        kube.delete(api_version, kind, ns, name)
    else:
        kube.apply(manifest, owner)
