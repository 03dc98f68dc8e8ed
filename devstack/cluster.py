"""A real Kubernetes control plane as local processes: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, and kwok simulating nodes in three zones plus a GPU pool.

Without Docker there is no kind, but the operator still has to be tested against the real
API server (CRD schemas and CEL rules, RBAC, owner-reference garbage collection, the
scheduler's topology spread and taints).  Only the kubelet is simulated: kwok marks pods
Running and nodes Ready.  Binaries are built once by ``k8s_build``; state, logs and the
admin kubeconfig live in ``~/.cache/cverag/state/cluster``.  A cluster whose recorded
processes all live and whose ``/readyz`` answers is reused; anything else is torn down by
pid and started fresh with new ports, certificates and an empty etcd.
"""

from __future__ import annotations

import argparse
import json
import shutil
import ssl
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from kubernetes import client, config

from devstack import k8s_build, k8s_components, k8s_pki, kwok_nodes, proc
from devstack.k8s_jobs import complete_job

__all__ = ["ClusterInfo", "build", "complete_job", "ensure_running", "logs", "stop"]

SERVICE = proc.ServiceDir("cluster")
PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class ClusterInfo:
    """How to reach the cluster: admin kubeconfig, API server URL, its CA, a matching kubectl."""

    kubeconfig: Path
    server: str
    ca_cert: Path
    kubectl: Path
    provider: str = "local"

    def api_client(self) -> client.ApiClient:
        return config.new_client_from_config(config_file=str(self.kubeconfig))


def build() -> None:
    """Compile whatever binaries are missing from the cache (slow once, then a no-op)."""
    k8s_build.build_all()


def ensure_running() -> tuple[ClusterInfo, bool]:
    """The running cluster if healthy, else a fresh one; True when this call started it."""
    running = _healthy_recorded()
    if running is not None:
        return running, False
    build()
    with k8s_build.locked(SERVICE.path / ".lock"):  # a second test run waits, then reuses
        running = _healthy_recorded()
        if running is not None:
            return running, False
        _stop_recorded()
        try:
            return _start(), True
        except BaseException:
            _stop_recorded()
            raise


def stop() -> None:
    """Stop every recorded process by its pid (never by name) and forget the cluster."""
    with k8s_build.locked(SERVICE.path / ".lock"):
        _stop_recorded()


def _stop_recorded() -> None:
    try:
        recorded = json.loads(SERVICE.info_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        recorded = {}
    for pid in reversed(list(recorded.get("pids", {}).values())):
        if _is_ours(int(pid)):
            proc.stop_pid(int(pid))
    SERVICE.info_file.unlink(missing_ok=True)


def logs() -> list[Path]:
    return [SERVICE.log(p) for p in PROCESSES]


def _healthy_recorded() -> ClusterInfo | None:
    """The recorded cluster if it finished starting and every component answers its health check."""
    recorded = SERVICE.read_info()
    if not recorded or not recorded.get("ready") or "health" not in recorded:
        return None
    fields = recorded["cluster"]
    info = ClusterInfo(
        Path(fields["kubeconfig"]), fields["server"], Path(fields["ca_cert"]), Path(fields["kubectl"])
    )
    admin = _admin_context(info.ca_cert, recorded["admin"])
    healthy = all(_get(url, admin if verify else None) for url, verify in recorded["health"].values())
    return info if healthy else None


def _start() -> ClusterInfo:
    home = SERVICE.path
    for stale in ("etcd-data", "pki", "controller-manager-certs"):
        shutil.rmtree(home / stale, ignore_errors=True)
    for log in logs():
        log.unlink(missing_ok=True)
    pki = k8s_pki.create(home / "pki", k8s_components.SERVICE_IP)
    layout = k8s_components.Layout(
        home, pki, home / "admin.kubeconfig", {name: proc.free_port() for name in k8s_components.PORTS}
    )
    server = f"https://127.0.0.1:{layout.ports['apiserver']}"
    k8s_pki.write_kubeconfig(layout.kubeconfig, pki, server)
    info = ClusterInfo(layout.kubeconfig, server, pki.ca_cert, k8s_build.KUBERNETES.binary("kubectl"))
    admin = [str(pki.admin_cert), str(pki.admin_key)]
    components = k8s_components.control_plane(layout)
    record = {
        "endpoints": {"server": server},
        "cluster": {k: str(v) for k, v in asdict(info).items()},
        "admin": admin,
        "health": {c.name: [c.health_url, c.verify_tls] for c in components},
    }
    pids: dict[str, int] = {}
    for component in components:
        log = SERVICE.log(component.name)
        process = proc.spawn(component.command, log)
        pids[component.name] = process.pid  # recorded at once so a crash mid-start is cleaned up
        SERVICE.write_info({**record, "pids": pids, "ready": False})
        context = _admin_context(info.ca_cert, admin) if component.verify_tls else None
        proc.wait_until(
            _probe(component.health_url, context),
            what=component.name,
            timeout=180,
            log=log,
            process=process,
        )
    with info.api_client() as api:
        _wait_for_nodes_and_controllers(api)
    SERVICE.write_info({**record, "pids": pids, "ready": True})
    return info


def _wait_for_nodes_and_controllers(api: client.ApiClient) -> None:
    names = kwok_nodes.create_nodes(api)
    proc.wait_until(
        lambda: kwok_nodes.all_ready(api, names),
        what="kwok nodes Ready",
        timeout=120,
        log=SERVICE.log("kwok"),
    )
    core = client.CoreV1Api(api)  # the serviceaccount controller is working once "default" exists
    proc.wait_until(
        lambda: bool(core.read_namespaced_service_account("default", "default")),
        what="default ServiceAccount",
        timeout=120,
        log=SERVICE.log("kube-controller-manager"),
    )


def _admin_context(ca_cert: Path, admin: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_cert))
    context.load_cert_chain(admin[0], admin[1])
    return context


def _probe(url: str, context: ssl.SSLContext | None) -> Callable[[], bool]:
    return lambda: _get(url, context)


def _get(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True on HTTP 200; self-signed component endpoints (/healthz) are read without verification."""
    if context is None and url.startswith("https"):
        context = ssl._create_unverified_context()  # loopback health probe of a self-signed server
    opener = urllib.request.build_opener(  # loopback: never through an HTTP proxy from the environment
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _is_ours(pid: int) -> bool:
    """Only kill a recorded pid that still runs one of our cached binaries (pids get reused)."""
    try:
        exe = Path(f"/proc/{pid}/exe").resolve()
    except OSError:
        return False
    return proc.pid_alive(pid) and proc.CACHE_ROOT.resolve() in exe.parents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.cluster", description=__doc__)
    parser.add_argument("action", choices=["build", "up", "down", "status"])
    action = parser.parse_args(argv).action
    if action == "build":
        build()
    elif action == "up":
        info, started = ensure_running()
        print(f"{'started' if started else 'reusing'} {info.server}\nexport KUBECONFIG={info.kubeconfig}")
    elif action == "down":
        stop()
    else:
        print(SERVICE.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
