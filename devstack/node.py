"""A real node beside the kwok ones: a kubelet running pods as containers through containerd.

kwok only marks pods Running; images, users, read-only root filesystems, probes, restarts,
logs and exec need a kubelet, and Service routing a kube-proxy (``node_runtime`` says how
pods reach the loopback-bound API server, Kafka and PostgreSQL).  This one joins the local control plane (``devstack.cluster``)
as ``cverag-real-0`` with the node identity NodeRestriction expects, serving TLS with a
certificate from the cluster CA and authenticating/authorising every caller through the
API server (webhook), like a managed node.  It is labelled ``cverag.io/node-pool=real``,
tainted ``cverag.io/real-node=true:NoSchedule`` and cordoned (``node_kubelet.cordon`` says
why), so only pods that select the pool and carry ``NodeInfo.tolerations`` run there; a
namespace annotated for the API server's PodNodeSelector and PodTolerationRestriction
plugins (``NodeInfo.namespace_annotations``) gets that for every pod made in it, so the
operator's pods land here without a scheduling field in the CRs.  It sits in ``zone-a`` of
the kwok region: the zone spread tests see the same zones as before and every node has a
zone.  Image garbage collection is off (images cannot be pulled again here) and disk
eviction is relaxed.

Optional: ``python -m devstack up node`` (after the cluster) or the ``real_node`` fixture.
State, logs and containerd live in ``~/.cache/cverag/state/node``; ``node_host`` records
the host before the first start and ``stop`` restores it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config

from devstack import (
    cluster,
    k8s_build,
    k8s_components,
    node_host,
    node_kubelet,
    node_runtime,
    pause,
    probe_image,
    proc,
)

SERVICE = proc.ServiceDir("node")
NAME = node_kubelet.NAME
PROCESSES = ("containerd", "kubelet", "kube-proxy")


@dataclass(frozen=True)
class NodeInfo:
    """How tests use the node: its name, how to schedule onto it, containerd's socket."""

    name: str
    containerd_socket: Path
    gateway: str  # pods reach host services forwarded with forward_host_port here

    @property
    def node_selector(self) -> dict[str, str]:
        return {node_kubelet.POOL_LABEL: node_kubelet.LABELS[node_kubelet.POOL_LABEL]}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [dict(t) for t in node_kubelet.TOLERATIONS]

    @property
    def namespace_annotations(self) -> dict[str, str]:
        """Annotations that send every pod of a namespace here (PodNodeSelector, PodTolerationRestriction)."""
        selector = ",".join(f"{k}={v}" for k, v in self.node_selector.items())
        return {
            "scheduler.alpha.kubernetes.io/node-selector": selector,
            "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(self.tolerations),
        }

    def ctr(self, *args: str, node: str | None = None) -> str:
        """``ctr`` in the node's containerd (``node``: for the kind nodes' interface; one node here)."""
        return proc.run(["ctr", "-a", str(self.containerd_socket), "-n", "k8s.io", *args], what="ctr")

    def import_image(self, archive: Path) -> None:
        """Import and unpack for the CRI's snapshotter.  Re-tagging frees the previous build's
        layers, and containerd 1.6 may collect a snapshot the new unpack is about to reuse
        ("parent snapshot ... does not exist", seen here): the next try makes it again."""
        for attempt in range(3):
            try:
                self.ctr("images", "import", str(archive))
                return
            except proc.ServiceError as exc:
                if "does not exist" not in str(exc) or attempt == 2:
                    raise

    def forward_host_port(self, port: int) -> str:
        return node_runtime.forward_host_port(port)


def unavailable() -> str | None:
    """Why this machine cannot run a real node, or None when it can."""
    if os.geteuid() != 0:
        return "the real node needs root (containerd, iptables, mounts, cgroups)"
    missing = node_runtime.missing_tools()
    return f"no container runtime here: missing {', '.join(missing)}" if missing else None


def build() -> None:
    """The kubelet (on top of the control-plane build cache) and the two local images."""
    k8s_build.build(k8s_build.NODE)
    pause.pause_image()
    probe_image.probe_image()


def ensure_running() -> tuple[NodeInfo, bool]:
    """The running node if it is Ready in the running cluster, else a fresh one; True if started here."""
    if reason := unavailable():
        raise proc.ServiceError(reason)
    cluster_info, _ = cluster.ensure_running()
    if (running := _healthy(cluster_info)) is not None:
        return running, False
    build()
    with k8s_build.locked(SERVICE.path / ".lock"):
        if (running := _healthy(cluster_info)) is not None:
            return running, False
        _stop_recorded(restore=False)
        try:
            return _start(cluster_info), True
        except BaseException:
            _stop_recorded(restore=False)
            raise


def stop() -> None:
    """Stop kubelet, containers and containerd by pid, forget the Node, undo the host changes."""
    with k8s_build.locked(SERVICE.path / ".lock"):
        _stop_recorded(restore=True)


def logs() -> list[Path]:
    return [SERVICE.log(p) for p in PROCESSES]


def _info() -> NodeInfo:
    return NodeInfo(NAME, node_runtime.socket(SERVICE.path), node_runtime.GATEWAY)


def _healthy(cluster_info: cluster.ClusterInfo) -> NodeInfo | None:
    recorded = SERVICE.read_info()
    if not recorded or not recorded.get("ready") or recorded.get("server") != cluster_info.server:
        return None
    if set(recorded["pids"]) != set(PROCESSES):  # recorded by an older version of this module
        return None
    with cluster_info.api_client() as api:
        return _info() if _ready(api) else None


def _ready(api: client.ApiClient) -> bool:
    try:
        node = client.CoreV1Api(api).read_node(NAME)
    except client.ApiException:
        return False
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    return ready and bool(node.spec.unschedulable)


def _start(cluster_info: cluster.ClusterInfo) -> NodeInfo:
    home = SERVICE.path
    node_host.record_once(home / "host-before.json")
    for log in logs():
        log.unlink(missing_ok=True)
    info, pids = _info(), dict[str, int]()
    record = {"pids": pids, "server": cluster_info.server}

    def launch(name: str, cmd: list[str], ready: Callable[[], bool], what: str) -> None:
        process = proc.spawn(cmd, SERVICE.log(name))
        pids[name] = process.pid  # recorded at once so a crash mid-start is cleaned up
        SERVICE.write_info({**record, "ready": False})
        proc.wait_until(ready, what=what, timeout=120, log=SERVICE.log(name), process=process)

    sandbox = pause.pause_image()
    config = str(node_runtime.containerd_config(home, sandbox.name))
    version = ["ctr", "-a", str(info.containerd_socket), "version"]
    launch("containerd", ["containerd", "--config", config], lambda: _succeeds(version), "containerd")
    for image in (sandbox, probe_image.probe_image()):
        info.import_image(image.archive)
    api_port = int(cluster_info.server.rsplit(":", 1)[1])
    node_runtime.setup_network(api_port, k8s_components.SERVICE_IP, [])
    with cluster_info.api_client() as api:
        node_kubelet.allow_apiserver(api)
        kubelet, healthz = node_kubelet.command(home, cluster_info)

        def registered() -> bool:
            return _http_ok(healthz) and node_kubelet.cordon(api) and _ready(api)

        launch("kubelet", kubelet, registered, f"node {NAME} Ready")
    kube_proxy, proxy_healthz = node_kubelet.proxy_command(home, cluster_info)
    launch("kube-proxy", kube_proxy, lambda: _http_ok(proxy_healthz), "kube-proxy /healthz")
    SERVICE.write_info({**record, "ready": True, "endpoints": {"node": NAME}})
    return info


def _succeeds(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _stop_recorded(restore: bool) -> None:
    """Stop kubelet and containerd by pid.  A restart (``restore=False``) leaves the containers
    running, as on a real node: the next kubelet adopts them or, for a new cluster, removes them
    through CRI (network torn down properly).  ``down`` removes them all and undoes the host."""
    recorded = _recorded()
    live = SERVICE.live_pids(recorded)
    pids = recorded.get("pids", {})
    for agent in ("kube-proxy", "kubelet"):
        if pids.get(agent) in live:
            proc.stop_pid(pids[agent])
    if pids.get("containerd") in live:
        if restore:
            _remove_containers(_info())
        proc.stop_pid(pids["containerd"])
    SERVICE.info_file.unlink(missing_ok=True)
    if restore:
        _forget_node()
        transient = [
            SERVICE.path / d for d in ("kubelet", "pod-logs", "cni", "containerd/state", "containerd/runc")
        ]
        problems = node_host.restore(SERVICE.path / "host-before.json", transient, node_runtime.BRIDGE)
        for directory in transient:  # images stay in containerd's root for the next start
            subprocess.run(["rm", "-rf", "--one-file-system", str(directory)], check=False)
        if problems:
            raise proc.ServiceError("node: could not undo on the host:\n" + "\n".join(problems))


def _remove_containers(info: NodeInfo) -> None:
    """Kill every container and sandbox so no shim outlives containerd (they run in their own groups)."""
    with contextlib.suppress(proc.ServiceError):  # containerd no longer answers: nothing to list
        for task in info.ctr("tasks", "ls", "-q").split():
            with contextlib.suppress(proc.ServiceError):
                info.ctr("tasks", "delete", "-f", task)
        for container in info.ctr("containers", "ls", "-q").split():
            with contextlib.suppress(proc.ServiceError):
                info.ctr("containers", "delete", container)


def _forget_node() -> None:
    """Delete the Node object so the cluster keeps no NotReady node (when the cluster still runs)."""
    recorded = cluster.SERVICE.read_info()
    if not recorded:
        return
    kubeconfig = recorded["cluster"]["kubeconfig"]
    with (
        config.new_client_from_config(config_file=kubeconfig) as api,
        contextlib.suppress(client.ApiException),
    ):
        client.CoreV1Api(api).delete_node(NAME)


def _recorded() -> dict[str, Any]:
    """What was recorded, even when some of its processes died (those still alive must be stopped)."""
    try:
        recorded: dict[str, Any] = json.loads(SERVICE.info_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return recorded


def _http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
    try:
        with opener.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False
