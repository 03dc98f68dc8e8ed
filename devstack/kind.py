"""The same cluster API as ``cluster`` on a kind cluster, for machines with a Docker engine.

Only imported when ``docker info`` works (see ``tests/conftest.py``).  The workers are given
the labels, taints and ``nvidia.com/gpu`` capacity of the first node of each zone in
``k8s/node-pools.yaml``, so the tests see three zones and a GPU pool on either provider.
Extended resources are advertised by patching node status, as Kubernetes documents for
resources no device plugin reports.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import yaml
from kubernetes import client
from pytest_kind import KindCluster

from devstack import kwok_nodes, proc
from devstack.cluster import ClusterInfo

NAME = "cverag"
KIND_CONFIG = Path(__file__).with_name("k8s") / "kind-config.yaml"
STATE = proc.ServiceDir("kind")
KIND_OWNS = {"kubernetes.io/hostname", "type"}  # kind's own hostname label; "type: kwok" would be a lie


def _kind() -> KindCluster:
    which = shutil.which("kind")
    return KindCluster(
        NAME,
        kubeconfig=STATE.path / "kubeconfig",
        image=os.environ.get("CVERAG_KIND_IMAGE"),
        kind_path=Path(which) if which else None,
    )


def build() -> None:
    _kind().ensure_kind()


def ensure_running() -> tuple[ClusterInfo, bool]:
    kind = _kind()
    kind.ensure_kind()
    existing = subprocess.run(
        [str(kind.kind_path), "get", "clusters"], capture_output=True, text=True, check=True
    ).stdout.split()
    kind.create(KIND_CONFIG)
    info = _info(kind)
    with info.api_client() as api:
        _shape_nodes(api)
        names = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        proc.wait_until(lambda: kwok_nodes.all_ready(api, names), what="kind nodes Ready", timeout=300)
    return info, NAME not in existing


def stop() -> None:
    _kind().delete()


def logs() -> list[Path]:
    return []


def _info(kind: KindCluster) -> ClusterInfo:
    kubeconfig = Path(kind.kubeconfig_path).resolve()
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    ca_cert = STATE.path / "ca.crt"
    ca_cert.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        kind.ensure_kubectl()
    return ClusterInfo(kubeconfig, cluster["server"], ca_cert, Path(kubectl or kind.kubectl_path), "kind")


def _shape_nodes(api: client.ApiClient) -> None:
    """Give kind's workers zones, pools and GPU capacity (idempotent)."""
    core = client.CoreV1Api(api)
    workers = sorted(
        n.metadata.name for n in core.list_node(label_selector="!node-role.kubernetes.io/control-plane").items
    )
    pools = [m for m in kwok_nodes.node_manifests() if m["metadata"]["name"].endswith("-0")]
    for worker, manifest in zip(workers, pools, strict=False):
        labels = {k: v for k, v in manifest["metadata"]["labels"].items() if k not in KIND_OWNS}
        core.patch_node(
            worker, {"metadata": {"labels": labels}, "spec": {"taints": manifest["spec"]["taints"]}}
        )
        gpus = manifest["status"]["capacity"].get(kwok_nodes.GPU_RESOURCE)
        if gpus:
            core.patch_node_status(worker, {"status": {"capacity": {kwok_nodes.GPU_RESOURCE: gpus}}})
