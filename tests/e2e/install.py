"""The operator installed the way the README says: ``kubectl apply -k bundles/operator``.

The bundle is rendered by ``kubectl kustomize`` and applied server-side as it is, with two
edits: the ``cverag-system`` Namespace gets the real node's annotations (so the operator pod
runs as a container; a real cluster needs nothing of the kind), and the operator watches only
the quickstart's namespace (``CVERAG_NAMESPACE``, one of its documented settings), because the
shared test cluster also runs the operator tests' own operators on their namespaces.  The
CRDs, ServiceAccount, ClusterRole and binding are shared with those tests and stay; only the
Deployment is removed afterwards.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import yaml
from kubernetes import client

from controllers.api import GROUP, VERSION
from devstack.cluster import ClusterInfo
from devstack.image import REPO
from devstack.operator_process import STARTED
from tests.support.kube import kubectl

BUNDLE = REPO / "bundles" / "operator"
NAMESPACE, DEPLOYMENT = "cverag-system", "cverag-operator"
MANAGER = "cverag-e2e"  # its own field manager: another apply of namespace.yaml keeps the annotations


def rendered(cluster: ClusterInfo) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(kubectl(cluster.kubeconfig, "kustomize", str(BUNDLE)).stdout) if d]


def install(cluster: ClusterInfo, annotations: dict[str, str], watch: str) -> list[dict[str, Any]]:
    """Apply the bundle with the two edits; returns what was applied."""
    docs = rendered(cluster)
    for doc in docs:
        if doc["kind"] == "Namespace" and doc["metadata"]["name"] == NAMESPACE:
            doc["metadata"].setdefault("annotations", {}).update(annotations)
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == DEPLOYMENT:
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            container.setdefault("env", []).append({"name": "CVERAG_NAMESPACE", "value": watch})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
        yaml.safe_dump_all(docs, out)
        out.flush()
        apply = ("apply", "--server-side", "--force-conflicts", f"--field-manager={MANAGER}", "-f", out.name)
        kubectl(cluster.kubeconfig, *apply)
    return docs


def uninstall(api: client.ApiClient, annotations: dict[str, str]) -> None:
    """The Deployment goes (its pod with it); the shared objects stay, without the annotations."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    try:
        apps.delete_namespaced_deployment(DEPLOYMENT, NAMESPACE, propagation_policy="Foreground")
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    core.patch_namespace(NAMESPACE, {"metadata": {"annotations": dict.fromkeys(annotations)}})


def operator_pod(core: client.CoreV1Api) -> Any | None:
    """The operator's pod once it runs and kopf has started, else None."""
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"app.kubernetes.io/name={DEPLOYMENT}").items
    live = [p for p in pods if p.metadata.deletion_timestamp is None and p.status.phase == "Running"]
    if len(live) != 1:
        return None
    try:
        log = core.read_namespaced_pod_log(live[0].metadata.name, NAMESPACE, container="operator")
    except client.ApiException:
        return None
    return live[0] if STARTED in log else None


def remove_resources(api: client.ApiClient, ns: str, timeout: float = 180) -> None:
    """Delete whatever cverag resources a failed run left in ``ns`` and give the operator time to
    run their finalizers; past ``timeout`` the finalizers are dropped so the namespace can go."""
    custom = client.CustomObjectsApi(api)
    plurals = ("ragendpoints", "cveindexes", "cvestores", "cvefeeds")

    def left() -> list[tuple[str, str]]:
        return [
            (plural, item["metadata"]["name"])
            for plural in plurals
            for item in custom.list_namespaced_custom_object(GROUP, VERSION, ns, plural)["items"]
        ]

    for plural, name in left():
        custom.delete_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
    deadline = time.monotonic() + timeout
    while left() and time.monotonic() < deadline:
        time.sleep(1)
    for plural, name in left():
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, plural, name, {"metadata": {"finalizers": []}}
        )
