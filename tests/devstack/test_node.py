"""The real node: a kubelet in the local cluster that runs pods as containers.

Every pod here tolerates the node's taint and selects its pool, the way the end-to-end pods
will; the image is the node's probe image (busybox + kube-whoami), imported without a
registry.  ``test_cluster.py`` runs unchanged beside it: the kwok zones and GPU pool keep
serving while the real node is up.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client

from devstack import k8s_build, node_host, probe_image
from devstack.cluster import ClusterInfo
from devstack.node import NodeInfo
from tests.support.kube import kubectl

pytestmark = pytest.mark.cluster
T = TypeVar("T")
UID = 10001


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def core(cluster: ClusterInfo) -> Iterator[client.CoreV1Api]:
    with cluster.api_client() as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def ns(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-node-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    eventually(lambda: _found(lambda: core.read_namespaced_service_account("default", name)), "default SA")
    yield name
    core.delete_namespace(name)


def _found(read: Callable[[], Any]) -> bool:
    try:
        read()
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _pod(node: NodeInfo, name: str, command: str, tolerate: bool = True, **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": node.node_selector,
            "tolerations": node.tolerations if tolerate else [],
            "securityContext": {"runAsUser": UID, "runAsGroup": UID, "runAsNonRoot": True},
            "containers": [
                {
                    "name": "main",
                    "image": probe_image.probe_image().name,
                    "imagePullPolicy": "Never",  # there is no registry: the image was imported
                    "command": ["/bin/sh", "-c", command],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    **container,
                }
            ],
        },
    }


def _running(core: client.CoreV1Api, ns: str, name: str) -> Any:
    def ready() -> Any:
        pod = core.read_namespaced_pod(name, ns)
        statuses = pod.status.container_statuses or []
        return pod if pod.status.phase == "Running" and statuses and statuses[0].ready else None

    return eventually(ready, f"pod {name} Running and ready")


def test_the_real_node_joins_ready_labelled_and_tainted(real_node: NodeInfo, core: client.CoreV1Api) -> None:
    node = core.read_node(real_node.name)
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    assert node.status.node_info.kubelet_version == k8s_build.KUBERNETES_VERSION
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert node.metadata.labels["cverag.io/node-pool"] == "real"
    assert node.metadata.labels["topology.kubernetes.io/zone"] == "zone-a"
    taints = {(t.key, t.value, t.effect) for t in node.spec.taints}
    assert ("cverag.io/real-node", "true", "NoSchedule") in taints
    assert node.spec.unschedulable  # cordoned: set aside before the taint filter (node_kubelet.cordon)
    assert "kwok.x-k8s.io/node" not in (node.metadata.annotations or {})  # kwok leaves it alone


def test_a_pod_runs_as_a_non_root_container_with_a_read_only_root(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, _pod(real_node, "main", "id; echo started; exec sleep 3600"))
    pod = _running(core, ns, "main")
    assert pod.spec.node_name == real_node.name
    assert pod.status.pod_ip.startswith("10.200.0.")  # from the node's CNI bridge, not kwok's range

    logs = kubectl(cluster.kubeconfig, "-n", ns, "logs", "main").stdout
    assert logs.splitlines() == [f"uid={UID} gid={UID} groups={UID}", "started"]
    assert kubectl(cluster.kubeconfig, "-n", ns, "exec", "main", "--", "id", "-u").stdout.strip() == str(UID)
    denied = kubectl(cluster.kubeconfig, "-n", ns, "exec", "main", "--", "touch", "/written", check=False)
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr


def test_a_pod_reaches_the_api_server_with_its_service_account_token(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, _pod(real_node, "whoami", "exec sleep 3600"))
    _running(core, ns, "whoami")
    answer = kubectl(cluster.kubeconfig, "-n", ns, "exec", "whoami", "--", "kube-whoami").stdout
    assert answer.startswith("201 Created")
    assert f'"username":"system:serviceaccount:{ns}:default"' in answer
    assert f'"authentication.kubernetes.io/node-name":["{real_node.name}"]' in answer


def _serve_here(host: str, body: bytes) -> tuple[http.server.HTTPServer, int]:
    """An HTTP server in this test process on ``host`` (a free port), answering ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _fetch_in(cluster: ClusterInfo, ns: str, pod: str, url: str) -> str:
    return kubectl(cluster.kubeconfig, "-n", ns, "exec", pod, "--", "wget", "-q", "-O-", url).stdout


def test_services_route_pod_to_pod_and_host_to_pod_through_kube_proxy(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    web = _pod(
        real_node, "web", f"echo served-in-{ns} > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    )
    web["metadata"]["labels"] = {"app": "web"}
    web["spec"]["volumes"] = [{"name": "www", "emptyDir": {}}]
    web["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/www"}]
    core.create_namespaced_pod(ns, web)
    core.create_namespaced_pod(ns, _pod(real_node, "client", "exec sleep 3600"))
    service = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    cluster_ip = core.create_namespaced_service(ns, service).spec.cluster_ip
    pod_ip = _running(core, ns, "web").status.pod_ip
    _running(core, ns, "client")

    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
        f"http://{pod_ip}:8080/"
    ) as answer:
        assert answer.read().decode().strip() == f"served-in-{ns}"  # host -> pod over the bridge
    served = eventually(
        lambda: (
            _fetch_in(cluster, ns, "client", f"http://{cluster_ip}/") if _kube_proxy_has(cluster_ip) else None
        ),
        "kube-proxy to program the Service",
    )
    assert served.strip() == f"served-in-{ns}"


def _kube_proxy_has(cluster_ip: str) -> bool:
    rules = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"], capture_output=True, text=True
    )
    return f"-d {cluster_ip}/32" in rules.stdout


def test_pods_reach_host_services_on_loopback_and_on_the_bridge_gateway(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    """The bring-your-own pattern: a host service on loopback (as Kafka and PostgreSQL are)
    through ``forward_host_port``, and one on the gateway through a selector-less Service."""
    core.create_namespaced_pod(ns, _pod(real_node, "client", "exec sleep 3600"))
    loopback, loopback_port = _serve_here("127.0.0.1", b"from-loopback")
    gateway, gateway_port = _serve_here(real_node.gateway, b"from-gateway")
    try:
        address = real_node.forward_host_port(loopback_port)
        service = {
            "metadata": {"name": "byo"},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": gateway_port}]},
        }
        cluster_ip = core.create_namespaced_service(ns, service).spec.cluster_ip
        slice_ = {
            "metadata": {"name": "byo-host", "labels": {"kubernetes.io/service-name": "byo"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": gateway_port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [real_node.gateway]}],
        }
        with cluster.api_client() as api:
            client.DiscoveryV1Api(api).create_namespaced_endpoint_slice(ns, slice_)
        _running(core, ns, "client")
        assert _fetch_in(cluster, ns, "client", f"http://{address}/") == "from-loopback"
        served = eventually(
            lambda: (
                _fetch_in(cluster, ns, "client", f"http://{cluster_ip}/")
                if _kube_proxy_has(cluster_ip)
                else None
            ),
            "kube-proxy to program the selector-less Service",
        )
        assert served == "from-gateway"
    finally:
        loopback.shutdown()
        gateway.shutdown()


def test_a_killed_container_is_restarted_by_the_kubelet(
    real_node: NodeInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, _pod(real_node, "victim", "exec sleep 3600"))
    first = _running(core, ns, "victim").status.container_statuses[0].container_id
    tasks = dict(line.split()[:2] for line in real_node.ctr("tasks", "ls").splitlines()[1:])
    pid = int(tasks[first.removeprefix("containerd://")])
    assert os.stat(f"/proc/{pid}").st_uid == UID
    os.kill(pid, signal.SIGKILL)

    def restarted() -> Any:
        status = core.read_namespaced_pod("victim", ns).status.container_statuses[0]
        return status if status.restart_count == 1 and status.ready else None

    status = eventually(restarted, "the container to be restarted")
    assert status.last_state.terminated.exit_code == 128 + signal.SIGKILL
    assert status.container_id != first


def test_a_memory_limit_is_enforced_by_the_kernel(
    real_node: NodeInfo, core: client.CoreV1Api, ns: str
) -> None:
    pod = _pod(
        real_node,
        "hog",
        "head -c 64m /dev/zero | tail",  # tail holds the whole last "line": 64 MiB in memory
        resources={"limits": {"memory": "16Mi", "cpu": "200m"}},
    )
    pod["spec"]["restartPolicy"] = "Never"
    core.create_namespaced_pod(ns, pod)

    def terminated() -> Any:
        statuses = core.read_namespaced_pod("hog", ns).status.container_statuses or []
        return statuses[0].state.terminated if statuses and statuses[0].state.terminated else None

    assert eventually(terminated, "the memory hog to end").reason == "OOMKilled"


def test_a_pod_without_the_toleration_stays_off_the_real_node(
    real_node: NodeInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, _pod(real_node, "intruder", "exec sleep 3600", tolerate=False))

    def unschedulable() -> Any:
        conditions = core.read_namespaced_pod("intruder", ns).status.conditions or []
        return next((c for c in conditions if c.type == "PodScheduled" and c.status == "False"), None)

    condition = eventually(unschedulable, "the scheduler to refuse the pod")
    assert "1 node(s) were unschedulable" in condition.message
    assert core.read_namespaced_pod("intruder", ns).spec.node_name is None


def test_pods_of_an_annotated_namespace_land_on_the_real_node_without_scheduling_fields(
    real_node: NodeInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.patch_namespace(ns, {"metadata": {"annotations": real_node.namespace_annotations}})
    pod = _pod(real_node, "plain", "exec sleep 3600")
    del pod["spec"]["nodeSelector"], pod["spec"]["tolerations"]  # as the operator makes its pods
    admitted = core.create_namespaced_pod(ns, pod)
    assert admitted.spec.node_selector == real_node.node_selector, (
        "the namespace's node selector was not applied: the API server runs without the "
        "PodNodeSelector/PodTolerationRestriction admission plugins (started before they were "
        "enabled? `python -m devstack down cluster` and start it again)"
    )
    assert {t.key for t in admitted.spec.tolerations} >= {t["key"] for t in real_node.tolerations}
    assert _running(core, ns, "plain").spec.node_name == real_node.name


def test_the_host_is_recorded_once_so_a_restart_after_a_crash_keeps_the_original(tmp_path: Path) -> None:
    record = tmp_path / "host-before.json"
    first = node_host.record_once(record)
    assert first.sysctls["kernel.panic"] == node_host.read_sysctl("kernel.panic")
    # What a kubelet that crashed would have left behind must not become "the original".
    record.write_text(
        record.read_text().replace(
            f'"kernel.panic": "{first.sysctls["kernel.panic"]}"', '"kernel.panic": "7"'
        )
    )
    assert node_host.record_once(record).sysctls["kernel.panic"] == "7"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing sysctls, iptables and mounts needs root")
def test_restore_undoes_sysctls_chains_mounts_and_directories(tmp_path: Path) -> None:
    sysctl = "kernel.keys.root_maxkeys"  # one the kubelet sets, harmless to bump for a moment
    before = node_host.read_sysctl(sysctl)
    assert before is not None
    snapshot = node_host.take()
    created, own = tmp_path / "created-by-the-node", tmp_path / "node-state"
    snapshot.sysctls = {sysctl: before}
    snapshot.absent_paths = [str(created)]
    snapshot.chains = {"iptables/filter": snapshot.chains["iptables/filter"]}  # leave live NAT alone
    record = tmp_path / "host-before.json"
    record.write_text(json.dumps(dataclasses.asdict(snapshot)))

    chain = f"CVERAG-T{uuid.uuid4().hex[:6].upper()}"
    jump = ["OUTPUT", "-d", "198.51.100.7/32", "-j", chain]  # TEST-NET-2: matches no real traffic
    node_host.write_sysctl(sysctl, str(int(before) + 1))
    subprocess.run(["iptables", "-w", "-N", chain], check=True)
    subprocess.run(["iptables", "-w", "-A", *jump], check=True)
    created.mkdir()
    (own / "mnt").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(own / "mnt")], check=True)

    assert node_host.restore(record, [own], "cverag-none0") == []
    assert node_host.read_sysctl(sysctl) == before
    rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True).stdout
    assert chain not in rules
    assert not created.exists()
    assert str(own / "mnt") not in Path("/proc/self/mounts").read_text()
    assert not record.exists()  # all undone: the next start records the host afresh
