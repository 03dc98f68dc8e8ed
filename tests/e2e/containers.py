"""The operator-made pods as the kubelet and containerd run them: hardening, probes, crashes, logs.

:func:`hardened` reads each container twice: the pod spec the operator wrote, and the OCI spec
containerd actually runs (``ctr containers info``), because a field the API server accepts is
not yet a process that runs as uid 10001 on a read-only root.  :class:`CrashGuard` is checked in
every wait of the end-to-end test: a container that exits non-zero, restarts or cannot start
fails the test at once, with its last log lines, instead of a timeout minutes later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from devstack.cluster import ClusterInfo
from devstack.kind import KindNodes
from devstack.node import NodeInfo
from tests.support.kube import kubectl

UID = 10001
TAIL = 40
STUCK = {
    "CrashLoopBackOff",
    "ErrImageNeverPull",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "InvalidImageName",
}


def container_id(status: Any) -> str:
    """The runtime's id of a container status (``containerd://<id>``)."""
    return str(status.container_id).split("://", 1)[1]


Nodes = NodeInfo | KindNodes  # the real kubelet node, or the kind cluster's nodes


@dataclass(frozen=True)
class Target:
    """Where the quickstart runs: a cluster and the nodes its pods run on."""

    cluster: ClusterInfo
    nodes: Nodes
    node_names: tuple[str, ...]

    @property
    def annotations(self) -> dict[str, str]:
        return self.nodes.namespace_annotations or {}


def runtime_spec(nodes: Nodes, pod: Any, status: Any) -> dict[str, Any]:
    """The OCI runtime spec containerd holds for the container (exited ones included)."""
    raw = nodes.ctr("containers", "info", container_id(status), node=pod.spec.node_name)
    info: dict[str, Any] = json.loads(raw)
    spec: dict[str, Any] = info["Spec"]
    return {**spec, "image": info["Image"]}


def hardened(nodes: Nodes, pod: Any, image: str) -> list[str]:
    """What in ``pod`` is not non-root / read-only / capability-free / from ``image`` (empty: all is)."""
    problems: list[str] = []
    name, pod_security = pod.metadata.name, pod.spec.security_context
    if not (pod_security and pod_security.run_as_non_root and pod_security.run_as_user == UID):
        problems.append(f"{name}: pod securityContext is not runAsNonRoot/runAsUser {UID}")
    specs = {c.name: c for c in pod.spec.containers}
    for status in pod.status.container_statuses or []:
        where, security = f"{name}/{status.name}", specs[status.name].security_context
        if not (
            security and security.read_only_root_filesystem and security.allow_privilege_escalation is False
        ):
            problems.append(f"{where}: spec lacks readOnlyRootFilesystem or allowPrivilegeEscalation=false")
        if not status.container_id:
            problems.append(f"{where}: never created by the runtime")
            continue
        oci = runtime_spec(nodes, pod, status)
        process = oci["process"]
        if (process["user"]["uid"], process["user"]["gid"]) != (UID, UID):
            problems.append(f"{where}: runs as {process['user']} in the runtime")
        if not oci["root"].get("readonly"):
            problems.append(f"{where}: root filesystem writable in the runtime")
        if any(process.get("capabilities", {}).get(kind) for kind in ("bounding", "effective", "permitted")):
            problems.append(f"{where}: capabilities {process['capabilities']}")
        if not process.get("noNewPrivileges"):
            problems.append(f"{where}: no_new_privs not set")
        if oci["image"] != image and not oci["image"].endswith(image):
            problems.append(f"{where}: image {oci['image']}, not {image}")
    return problems


def log_tail(cluster: ClusterInfo, ns: str, pod: str, container: str, previous: bool = False) -> str:
    args = ["-n", ns, "logs", pod, "-c", container, f"--tail={TAIL}", *(["--previous"] if previous else [])]
    done = kubectl(cluster.kubeconfig, *args, check=False)
    return done.stdout if done.returncode == 0 else f"(no logs: {done.stderr.strip()})"


@dataclass
class CrashGuard:
    """Fails on any container that crashed, except the restarts a test caused on purpose."""

    cluster: ClusterInfo
    core: client.CoreV1Api
    namespaces: Iterable[str]
    caused: dict[str, int] = field(default_factory=dict)  # pod name -> restarts the test made

    def pods(self) -> list[Any]:
        return [p for ns in self.namespaces for p in self.core.list_namespaced_pod(ns).items]

    def check(self) -> None:
        for pod in self.pods():
            for status in pod.status.container_statuses or []:
                if problem := self._problem(pod, status):
                    ns, name = pod.metadata.namespace, pod.metadata.name
                    restarted = status.restart_count > 0
                    logs = log_tail(self.cluster, ns, name, status.name, previous=restarted)
                    raise AssertionError(
                        f"container {ns}/{name}/{status.name} {problem}; its last log lines:\n{logs}"
                    )

    def _problem(self, pod: Any, status: Any) -> str | None:
        state, allowed = status.state, self.caused.get(pod.metadata.name, 0)
        # A kill the test made shows as an exit (then a back-off) until the restart counts it.
        pending = status.restart_count < allowed
        waiting = state.waiting.reason if state.waiting is not None else None
        if waiting in STUCK and not (pending and waiting == "CrashLoopBackOff"):
            return f"cannot run: {waiting}: {state.waiting.message}"
        if state.terminated is not None and state.terminated.exit_code != 0 and not pending:
            return f"exited {state.terminated.exit_code} ({state.terminated.reason})"
        if status.restart_count > allowed:
            last = status.last_state.terminated
            why = f"exit {last.exit_code} ({last.reason})" if last is not None else "unknown"
            return f"restarted {status.restart_count} times (last: {why})"
        return None

    def report(self) -> str:
        """Every pod: phase, node, restarts, and each container's last log lines."""
        lines = []
        for pod in self.pods():
            ns, name = pod.metadata.namespace, pod.metadata.name
            lines.append(f"== {ns}/{name} {pod.status.phase} on {pod.spec.node_name}")
            for status in pod.status.container_statuses or []:
                lines.append(f"-- {status.name}: ready={status.ready} restarts={status.restart_count}")
                lines.append(log_tail(self.cluster, ns, name, status.name))
        return "\n".join(lines)
