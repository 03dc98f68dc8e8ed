"""The LLM server of a RagEndpoint: apply it (or remove it for ``engine: external``) and say how it is.

``LLMReady`` is True as soon as one pod serves (a rollout that replaces pods one at a time
keeps serving).  With no pod ready, the pods themselves say why, in the words of the
scheduler and the kubelet: Pending for lack of a GPU node (``WaitingForGPU``: the cluster
autoscaler may still add one), Pending on the model cache claim (``WaitingForModelCache``),
or running but not yet past their probes (``ModelLoading``: minutes of weight loading).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.api.rag import RagEndpoint
from controllers.clients import children, kube
from controllers.machinery.conditions import Cond
from controllers.manifests.common import selector
from controllers.manifests.llm import (
    KIND,
    LLM,
    cache_claim_name,
    llm_deployment,
    llm_name,
    model_cache_claim,
    served_model,
)
from controllers.manifests.rag import companions

LLM_READY = "LLMReady"
CHILDREN = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
)


def converge(
    rag: RagEndpoint, owner: Mapping[str, Any], service_account: str, status: dict[str, Any]
) -> Cond:
    llm, ns = rag.spec.llm, rag.metadata.namespace
    status["model"] = served_model(rag)
    if llm.engine == "external":
        remove(rag)
        status["llmReadyReplicas"] = None
        return Cond(LLM_READY, True, "External", f"external server {llm.url} (not deployed by cverag)")
    claim = model_cache_claim(rag)
    if claim is None:
        children.delete("v1", "PersistentVolumeClaim", ns, cache_claim_name(rag))
    else:
        children.apply(claim, owner)
    deployment = children.apply(llm_deployment(rag, service_account), owner)
    for manifest in companions(rag, LLM):
        children.apply(manifest, owner)
    return _state(rag, deployment, status)


def _state(rag: RagEndpoint, deployment: Mapping[str, Any], status: dict[str, Any]) -> Cond:
    st = deployment.get("status") or {}
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    ready, updated = int(st.get("readyReplicas") or 0), int(st.get("updatedReplicas") or 0)
    status["llmReadyReplicas"] = ready
    what = f"{rag.spec.llm.engine} serving {served_model(rag)}"
    current = int(st.get("observedGeneration") or 0) >= int(deployment["metadata"].get("generation") or 0)
    if ready:
        done = current and ready >= wanted and updated >= wanted
        reason = "Serving" if done else "RollingOut"
        return Cond(LLM_READY, True, reason, f"{ready} of {wanted} pods ready ({what}), {updated} updated")
    reason, message = _waiting(rag)
    return Cond(LLM_READY, False, reason, f"{what}: {message}")


def _waiting(rag: RagEndpoint) -> tuple[str, str]:
    """Why no pod is ready, from the pods' scheduling and readiness conditions."""
    match = ",".join(f"{k}={v}" for k, v in selector(KIND, rag.metadata.name, LLM).items())
    pods = kube.core().list_namespaced_pod(rag.metadata.namespace, label_selector=match).items
    gpu = rag.spec.llm.gpu
    for pod in pods:
        for cond in pod.status.conditions or []:
            if cond.type != "PodScheduled" or cond.status == "True":
                continue
            text = cond.message or ""
            if "PersistentVolumeClaim" in text:
                return (
                    "WaitingForModelCache",
                    f"pod {pod.metadata.name} waits for its model cache volume: {text}",
                )
            if gpu.count and (gpu.resource_name in text or "affinity/selector" in text or "taint" in text):
                return "WaitingForGPU", f"no GPU node ({gpu.resource_name}) has room: {text}"
            return "Unschedulable", f"pod {pod.metadata.name} cannot be scheduled: {text}"
    if any(p.status.phase == "Running" for p in pods):
        return "ModelLoading", "pods are running and loading the model (the startup probe allows 30 minutes)"
    return "Starting", f"{len(pods)} pods created, none running yet"


def remove(rag: RagEndpoint) -> None:
    """Children of a self-hosted model that an ``external`` engine no longer needs."""
    ns = rag.metadata.namespace
    for api_version, kind in CHILDREN:
        children.delete(api_version, kind, ns, llm_name(rag))
    children.delete("v1", "PersistentVolumeClaim", ns, cache_claim_name(rag))
