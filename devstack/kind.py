"""A kind cluster for the end-to-end on kind (``make e2e-kind``), driven through pytest-kind.

One control plane and two workers (``k8s/kind-config.yaml``), in a Docker engine from
:mod:`docker_engine` (the user's if one answers, else the dev stack's own), from the offline
node image of :mod:`kind_image` (or ``CVERAG_KIND_IMAGE``, e.g. upstream's
``kindest/node:v1.36.3`` on a machine that reaches registries).  The workers get the zone
labels of the first CPU pools of ``k8s/node-pools.yaml``, so spread constraints have zones to
spread over, and pod networking from :mod:`kind_network`.

The rest of the suite runs on the local control plane; only the end-to-end comes here.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client
from pytest_kind import KindCluster

from devstack import docker_engine, kind_image, kind_network, kwok_nodes, proc
from devstack.cluster import ClusterInfo
from devstack.docker_engine import DockerInfo

NAME = "cverag"
KIND_CONFIG = Path(__file__).with_name("k8s") / "kind-config.yaml"
STATE = proc.ServiceDir("kind")
KIND_OWNS = {"kubernetes.io/hostname", "type"}  # kind's own hostname label; "type: kwok" would be a lie


@dataclass(frozen=True)
class KindNodes:
    """The kind nodes as the end-to-end uses a node: containerd of each, where pods reach the host."""

    engine: DockerInfo
    kind: Path
    workers: tuple[str, ...]
    gateway: str  # the host as pods see it (see tests/e2e/byo.py)

    node_selector: None = None  # pods go to any worker
    namespace_annotations: dict[str, str] | None = None

    def ctr(self, *args: str, node: str | None = None) -> str:
        """``ctr`` in one node's containerd, or in every worker's (outputs joined) without ``node``."""
        nodes = [node] if node else list(self.workers)
        out = [docker_engine.docker(self.engine, "exec", n, "ctr", "-n", "k8s.io", *args) for n in nodes]
        return "".join(out)

    def import_image(self, archive: Path) -> None:
        """``kind load image-archive``: into every node's containerd."""
        proc.run([self.kind, "load", "image-archive", archive, f"--name={NAME}"], env=self.engine.env)


def unavailable() -> str | None:
    return docker_engine.unavailable()


def build() -> None:
    """kind and the node image (a no-op, saying why, where no Docker engine can be had)."""
    if (reason := unavailable()) is not None:
        print(f"kind: not built: {reason}")
        return
    engine, _ = docker_engine.ensure_running()
    kind_image.kind_binary()
    if not os.environ.get("CVERAG_KIND_IMAGE"):
        kind_image.node_image(engine)


def ensure_running() -> tuple[ClusterInfo, bool]:
    engine, _ = docker_engine.ensure_running()
    kind = _kind(engine)
    # pytest-kind runs kind with this process's environment; kind finds the engine by DOCKER_HOST.
    os.environ["DOCKER_HOST"] = engine.host
    existing = _clusters(kind)
    kind.create(KIND_CONFIG)
    info = _info(kind)
    with info.api_client() as api:
        kind_network.configure(engine, api)
        _shape_nodes(api)
        names = [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
        proc.wait_until(lambda: kwok_nodes.all_ready(api, names), what="kind nodes Ready", timeout=300)
    return info, NAME not in existing


def nodes(gateway: str) -> KindNodes:
    engine, _ = docker_engine.ensure_running()
    workers = tuple(n for n in _clusters_nodes(_kind(engine)) if "control-plane" not in n)
    return KindNodes(engine, Path(_kind(engine).kind_path), workers, gateway)


def stop() -> None:
    """Delete the kind cluster, then stop the dev stack's own dockerd (never the user's)."""
    if docker_engine.unavailable() is None:
        engine, _ = docker_engine.ensure_running()
        os.environ["DOCKER_HOST"] = engine.host
        if NAME in _clusters(_kind(engine)):
            _kind(engine).delete()
    docker_engine.stop()


def logs() -> list[Path]:
    return docker_engine.logs()


def _kind(engine: DockerInfo) -> KindCluster:
    image = os.environ.get("CVERAG_KIND_IMAGE") or kind_image.node_image(engine)
    return KindCluster(
        NAME, kubeconfig=STATE.path / "kubeconfig", image=image, kind_path=kind_image.kind_binary()
    )


def _clusters(kind: KindCluster) -> list[str]:
    done = subprocess.run(
        [str(kind.kind_path), "get", "clusters"], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def _clusters_nodes(kind: KindCluster) -> list[str]:
    done = subprocess.run(
        [str(kind.kind_path), "get", "nodes", f"--name={NAME}"], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def _info(kind: KindCluster) -> ClusterInfo:
    kubeconfig = Path(kind.kubeconfig_path).resolve()
    cluster = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]
    ca_cert = STATE.path / "ca.crt"
    ca_cert.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    from devstack import k8s_build  # the local control plane's kubectl, same version as the nodes

    kubectl = k8s_build.KUBERNETES.binary("kubectl")
    return ClusterInfo(kubeconfig, cluster["server"], ca_cert, kubectl, "kind")


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
