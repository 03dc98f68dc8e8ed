"""The real node's network: Services through kube-proxy, host -> pod, port-forward, and the
bring-your-own pattern for host services (loopback through ``forward_host_port``, the bridge
gateway through a selector-less Service)."""

from __future__ import annotations

import re
import subprocess
import urllib.request

import pytest
from kubernetes import client

from devstack.cluster import ClusterInfo
from devstack.node import NodeInfo
from tests.devstack.node_pods import fetch_in, kube_proxy_has, probe_pod, running, serve_here
from tests.support.kube import eventually

pytestmark = pytest.mark.cluster


def test_services_route_pod_to_pod_and_host_to_pod_through_kube_proxy(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    web = probe_pod(
        real_node, "web", f"echo served-in-{ns} > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    )
    web["metadata"]["labels"] = {"app": "web"}
    web["spec"]["volumes"] = [{"name": "www", "emptyDir": {}}]
    web["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/www"}]
    core.create_namespaced_pod(ns, web)
    core.create_namespaced_pod(ns, probe_pod(real_node, "client", "exec sleep 3600"))
    service = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    cluster_ip = core.create_namespaced_service(ns, service).spec.cluster_ip
    pod_ip = running(core, ns, "web").status.pod_ip
    running(core, ns, "client")

    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
        f"http://{pod_ip}:8080/"
    ) as answer:
        assert answer.read().decode().strip() == f"served-in-{ns}"  # host -> pod over the bridge
    served = eventually(
        lambda: (
            fetch_in(cluster, ns, "client", f"http://{cluster_ip}/") if kube_proxy_has(cluster_ip) else None
        ),
        "kube-proxy to program the Service",
    )
    assert served.strip() == f"served-in-{ns}"


def test_pods_reach_host_services_on_loopback_and_on_the_bridge_gateway(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    """The bring-your-own pattern: a host service on loopback (as Kafka and PostgreSQL are)
    through ``forward_host_port``, and one on the gateway through a selector-less Service."""
    core.create_namespaced_pod(ns, probe_pod(real_node, "client", "exec sleep 3600"))
    loopback, loopback_port = serve_here("127.0.0.1", b"from-loopback")
    gateway, gateway_port = serve_here(real_node.gateway, b"from-gateway")
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
        running(core, ns, "client")
        assert fetch_in(cluster, ns, "client", f"http://{address}/") == "from-loopback"
        served = eventually(
            lambda: (
                fetch_in(cluster, ns, "client", f"http://{cluster_ip}/")
                if kube_proxy_has(cluster_ip)
                else None
            ),
            "kube-proxy to program the selector-less Service",
        )
        assert served == "from-gateway"
    finally:
        loopback.shutdown()
        gateway.shutdown()


def test_kubectl_port_forward_reaches_a_container(
    real_node: NodeInfo, cluster: ClusterInfo, core: client.CoreV1Api, ns: str
) -> None:
    web = probe_pod(
        real_node, "web", f"echo forwarded-{ns} > /www/index.html && exec busybox httpd -f -p 8080 -h /www"
    )
    web["spec"]["volumes"] = [{"name": "www", "emptyDir": {}}]
    web["spec"]["containers"][0]["volumeMounts"] = [{"name": "www", "mountPath": "/www"}]
    core.create_namespaced_pod(ns, web)
    running(core, ns, "web")
    forward = subprocess.Popen(
        [
            str(cluster.kubectl),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            ns,
            "port-forward",
            "pod/web",
            ":8080",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None and forward.stderr is not None
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:<port> -> 8080"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, (
            f"no local port in {line!r}; {forward.stderr.read() if forward.poll() is not None else ''}"
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{match.group(1)}/") as answer:
            assert answer.read().decode().strip() == f"forwarded-{ns}"
    finally:
        forward.terminate()
        forward.wait(timeout=30)
