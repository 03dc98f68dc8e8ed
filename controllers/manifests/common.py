"""Conventions every child object follows: names, labels, security, env, spreading, budgets.

A workload's env is built from its program's settings class (:func:`setting`,
:func:`secret_setting`): the variable's name comes from the class, so a manifest can only set
what the program reads (tests/controllers/test_env_contract.py checks every container)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic_settings import BaseSettings

from controllers.api.common import Resources, SecretKeyRef
from controllers.dataplane.contract import env_var

MANAGED_BY = "cverag-operator"
Manifest = dict[str, Any]
WORKLOADS_UID = 10001
ZONE_KEY = "topology.kubernetes.io/zone"
# Where the store consumer, index sync and feed Job serve /metrics (CVERAG_METRICS_PORT): the
# port named ``metrics`` that the chart's PodMonitor scrapes and the NetworkPolicies open.
METRICS_PORT = 9102
METRICS_CONTAINER_PORT: dict[str, Any] = {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}


def child_name(owner: str, suffix: str) -> str:
    """A DNS-1123 name for a child; long names keep a hash so they stay unique within 63 chars."""
    name = f"{owner}-{suffix}".lower()
    name = re.sub(r"[^a-z0-9-]+", "-", name).strip("-")
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


def labels(kind: str, instance: str, component: str) -> dict[str, str]:
    """Recommended labels plus ``cverag.io/<kind>`` so children are found by their owner."""
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "cverag",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        f"cverag.io/{kind.lower()}": instance,
    }


def selector(kind: str, instance: str, component: str) -> dict[str, str]:
    """The immutable subset of :func:`labels` used in Deployment and PDB selectors."""
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": instance}


def metadata(name: str, namespace: str, labels_: dict[str, str], **annotations: str) -> Manifest:
    meta: Manifest = {"name": name, "namespace": namespace, "labels": labels_}
    if annotations:
        meta["annotations"] = annotations
    return meta


POD_SECURITY: Manifest = {
    "runAsNonRoot": True,
    "runAsUser": WORKLOADS_UID,
    "runAsGroup": WORKLOADS_UID,
    "fsGroup": WORKLOADS_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: Manifest = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
# A read-only root filesystem still needs somewhere to write temporary files.
TMP_VOLUME: Manifest = {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}
TMP_MOUNT: Manifest = {"name": "tmp", "mountPath": "/tmp"}


def service_account(name: str, namespace: str, labels_: dict[str, str]) -> Manifest:
    """A pod identity without an API token: the data plane never calls Kubernetes."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, namespace, labels_),
        "automountServiceAccountToken": False,
    }


def resources(spec: Resources) -> Manifest:
    return spec.model_dump(exclude_none=True)


def env(name: str, value: str | int | None) -> list[Manifest]:
    """A literal env var, or nothing when the value is unset."""
    return [] if value is None else [{"name": name, "value": str(value)}]


def secret_env(name: str, ref: SecretKeyRef | None, optional: bool = False) -> list[Manifest]:
    """An env var read from a Secret key: how every credential reaches a workload."""
    if ref is None:
        return []
    key_ref: Manifest = {"name": ref.name, "key": ref.key}
    if optional:
        key_ref["optional"] = True
    return [{"name": name, "valueFrom": {"secretKeyRef": key_ref}}]


def setting(program: type[BaseSettings], field: str, value: str | int | None) -> list[Manifest]:
    """``program``'s variable for ``field`` set to ``value``, or nothing when unset."""
    return env(env_var(program, field), value)


def secret_setting(
    program: type[BaseSettings], field: str, ref: SecretKeyRef | None, optional: bool = False
) -> list[Manifest]:
    """``program``'s variable for ``field`` read from a Secret key (nothing without a reference)."""
    return secret_env(env_var(program, field), ref, optional)


def zone_spread(match: dict[str, str], max_skew: int = 1, when: str = "ScheduleAnyway") -> list[Manifest]:
    return [
        {
            "maxSkew": max_skew,
            "topologyKey": ZONE_KEY,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": match},
        }
    ]


def hpa(name: str, namespace: str, labels_: dict[str, str], min_r: int, max_r: int, cpu: int) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace, labels_),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": max(min_r, 1),
            "maxReplicas": max(max_r, 1),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
                }
            ],
        },
    }


def pdb(
    name: str,
    namespace: str,
    labels_: dict[str, str],
    match: dict[str, str],
    min_available: int | str | None = None,
    max_unavailable: int | str | None = None,
) -> Manifest:
    spec: Manifest = {"selector": {"matchLabels": match}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    else:
        spec["maxUnavailable"] = 1 if max_unavailable is None else max_unavailable
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, namespace, labels_),
        "spec": spec,
    }


def service(name: str, namespace: str, labels_: dict[str, str], match: dict[str, str], port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, labels_),
        "spec": {
            "selector": match,
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
