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

from controllers.api import GROUP, VERSION
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.clients import children, credentials
from controllers.handlers import rag_llm
from controllers.handlers.outcome import Outcome, summarise
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


def reconcile(body: Mapping[str, Any]) -> Outcome:
    rag = RagEndpoint.from_body(body)
    out = Outcome(status={"url": url(rag)})
    try:
        _check_secrets(rag)
    except credentials.MissingSecret as exc:
        out.add(
            Cond(API_READY, False, "SecretNotFound", str(exc)),
            Cond(LLM_READY, False, "SecretNotFound", str(exc)),
        )
        return summarise(out, body, PARTS, "Serving", PROGRESSING, READY_WHILE)
    children.apply(service_account(rag), body)
    out.add(rag_llm.converge(rag, body, service_account_name(rag), out.status))
    out.add(_api(rag, body, out.status))
    return summarise(out, body, PARTS, "Serving", PROGRESSING, READY_WHILE)


def _check_secrets(rag: RagEndpoint) -> None:
    """Secrets the pods will read exist with their keys (else pods would sit in CreateContainerConfigError)."""
    ns, llm = rag.metadata.namespace, rag.spec.llm
    credentials.optional_key(ns, rag.spec.api.api_key_secret_ref, "spec.api.apiKeySecretRef")
    if llm.engine == "vllm":
        credentials.optional_key(ns, llm.hf_token_secret_ref, "spec.llm.hfTokenSecretRef")
    if llm.engine == "external":
        credentials.optional_key(ns, llm.api_key_secret_ref, "spec.llm.apiKeySecretRef")


def _api(rag: RagEndpoint, owner: Mapping[str, Any], status: dict[str, Any]) -> Cond:
    ns, ref = rag.metadata.namespace, rag.spec.index_ref.name
    index_body = children.get(f"{GROUP}/{VERSION}", "CveIndex", ns, ref)
    if index_body is None:
        return Cond(
            API_READY,
            False,
            "IndexNotFound",
            f"CveIndex {ref!r} not found in namespace {ns!r} (spec.indexRef)",
        )
    index = CveIndex.from_body(index_body)
    store_ref = index.spec.store_ref.name
    store_body = children.get(f"{GROUP}/{VERSION}", "CveStore", ns, store_ref)
    if store_body is None:
        return Cond(
            API_READY, False, "StoreNotFound", f"CveStore {store_ref!r} of CveIndex {ref!r} not found"
        )
    deployment = children.apply(api_deployment(rag, index, CveStore.from_body(store_body)), owner)
    for manifest in companions(rag, API):
        children.apply(manifest, owner)
    _exposure(rag, owner)
    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
    status["readyReplicas"] = ready
    index_ready = children.condition(index_body, "Ready")
    if index_ready is None:
        detail = _ready_detail(index_body)
        return Cond(API_READY, False, "IndexNotReady", f"CveIndex {ref!r} is not Ready ({detail})")
    return _rollout(deployment, ready)


def _ready_detail(index_body: Mapping[str, Any]) -> str:
    for cond in (index_body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return f"{cond.get('reason')}: {cond.get('message')}"
    return "not reconciled yet"


def _rollout(deployment: Mapping[str, Any], ready: int) -> Cond:
    name = deployment["metadata"]["name"]
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    updated = int((deployment.get("status") or {}).get("updatedReplicas") or 0)
    if ready == 0:
        return Cond(API_READY, False, "RolloutInProgress", f"no pod of Deployment {name} is ready yet")
    reason = "Serving" if ready >= wanted and updated >= wanted else "RollingOut"
    return Cond(API_READY, True, reason, f"{ready} of {wanted} API pods ready, {updated} updated")


def _exposure(rag: RagEndpoint, owner: Mapping[str, Any]) -> None:
    """Ingress when asked for, and its Certificate when cert-manager is installed; else neither."""
    ns = rag.metadata.namespace
    _apply_or_delete(ingress(rag), "networking.k8s.io/v1", "Ingress", ns, api_name(rag), owner)
    if children.served(CERT_MANAGER, "certificates"):
        _apply_or_delete(certificate(rag), CERT_MANAGER, "Certificate", ns, tls_secret_name(rag), owner)


def _apply_or_delete(
    manifest: Manifest | None, api_version: str, kind: str, ns: str, name: str, owner: Mapping[str, Any]
) -> None:
    if manifest is None:
        children.delete(api_version, kind, ns, name)
    else:
        children.apply(manifest, owner)
