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

from controllers.api.rag import RagEndpoint, RagEndpointStatus
from controllers.clients import kube
from controllers.clients.objects import Rollout
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
    rag: RagEndpoint, owner: Mapping[str, Any], service_account: str
) -> tuple[Cond, RagEndpointStatus]:
    """Apply (or remove) the LLM server: LLMReady, the model served and its ready pods."""
    llm, ns = rag.spec.llm, rag.metadata.namespace
    if llm.engine == "external":
        remove(rag)
        status = RagEndpointStatus(model=served_model(rag), llm_ready_replicas=None)
        return Cond(
            LLM_READY, True, "External", f"external server {llm.url} (not deployed by cverag)"
        ), status
    claim = model_cache_claim(rag)
    if claim is None:
        kube.delete("v1", "PersistentVolumeClaim", ns, cache_claim_name(rag))
    else:
        kube.apply(claim, owner)
    deployment = Rollout.of(kube.apply(llm_deployment(rag, service_account), owner))
    for manifest in companions(rag, LLM):
        kube.apply(manifest, owner)
    status = RagEndpointStatus(model=served_model(rag), llm_ready_replicas=deployment.ready)
    return _state(rag, deployment), status


def _state(rag: RagEndpoint, rollout: Rollout) -> Cond:
    """Serving as soon as one pod is ready; else why none is, from the pods themselves."""
    what = f"{rag.spec.llm.engine} serving {served_model(rag)}"
    if rollout.ready:
        reason = "Serving" if rollout.done else "RollingOut"
        message = f"{rollout.ready} of {rollout.wanted} pods ready ({what}), {rollout.updated} updated"
        return Cond(LLM_READY, True, reason, message)
    reason, message = _waiting(rag)
    return Cond(LLM_READY, False, reason, f"{what}: {message}")


def _waiting(rag: RagEndpoint) -> tuple[str, str]:
    """Why no pod is ready, from the pods' scheduling and readiness conditions."""
    match = selector(KIND, rag.metadata.name, LLM)
    pods = kube.list_objects("v1", "Pod", rag.metadata.namespace, match)
    gpu = rag.spec.llm.gpu
    for pod in pods:
        name, status = pod["metadata"]["name"], pod.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") != "PodScheduled" or cond.get("status") == "True":
                continue
            text = cond.get("message") or ""
            if "PersistentVolumeClaim" in text:
                return "WaitingForModelCache", f"pod {name} waits for its model cache volume: {text}"
            if gpu.count and (gpu.resource_name in text or "affinity/selector" in text or "taint" in text):
                return "WaitingForGPU", f"no GPU node ({gpu.resource_name}) has room: {text}"
            return "Unschedulable", f"pod {name} cannot be scheduled: {text}"
    if any((p.get("status") or {}).get("phase") == "Running" for p in pods):
        return "ModelLoading", "pods are running and loading the model (the startup probe allows 30 minutes)"
    return "Starting", f"{len(pods)} pods created, none running yet"


def remove(rag: RagEndpoint) -> None:
    """Children of a self-hosted model that an ``external`` engine no longer needs."""
    ns = rag.metadata.namespace
    for api_version, kind in CHILDREN:
        kube.delete(api_version, kind, ns, llm_name(rag))
    kube.delete("v1", "PersistentVolumeClaim", ns, cache_claim_name(rag))
