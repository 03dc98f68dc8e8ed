"""The real node's kubelet: its configuration, identity and the RBAC the API server needs to reach it.

Settings that are not kubelet defaults, and why: ``failCgroupV1: false`` (this host has
cgroup v1, which the kubelet refuses by default), ``cgroupDriver: cgroupfs`` (no systemd),
TLS with a certificate from the cluster CA and webhook authentication/authorisation with
anonymous access off (as on a managed node; the API server calls in with its own client
certificate, bound here to ``system:kubelet-api-admin``), the taint at registration, image
garbage collection off (nothing can be pulled again here) and relaxed disk eviction (the
shared disk may be well used).  All of its directories are below the node's state directory.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from devstack import k8s_build, k8s_pki, node_runtime, proc
from devstack.cluster import ClusterInfo

NAME = "cverag-real-0"
POOL_LABEL, TAINT_KEY = "cverag.io/node-pool", "cverag.io/real-node"
LABELS = {
    POOL_LABEL: "real",
    "topology.kubernetes.io/zone": "zone-a",
    "topology.kubernetes.io/region": "us-east-1",
}
TAINT = {"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
# What a pod needs to run here: the node's own taint, and the cordon (see ``cordon``).
TOLERATIONS = [
    {"key": TAINT_KEY, "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    {"key": UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"},
]
KUBELET_CLIENT_BINDING = "cverag:kube-apiserver-kubelet-client"


def command(home: Path, cluster_info: ClusterInfo) -> tuple[list[str], str]:
    """The kubelet's command line and its healthz URL; writes its config, kubeconfig and certs."""
    pki = k8s_pki.Pki(cluster_info.ca_cert.parent)
    address = node_ip()
    client_cert, client_key = k8s_pki.node_client(pki, NAME, address)
    kubeconfig = home / "kubelet.kubeconfig"
    user = (f"system:node:{NAME}", client_cert, client_key)
    k8s_pki.write_kubeconfig(kubeconfig, pki, cluster_info.server, user=user)
    healthz_port, port = proc.free_port(), proc.free_port()
    serving = pki.directory / f"node-{NAME}-serving"
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # this host has cgroup v1; the kubelet refuses it by default
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{node_runtime.socket(home)}",
        "address": address,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": f"{serving}.crt",
        "tlsPrivateKeyFile": f"{serving}.key",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "registerWithTaints": [TAINT],
        "imageGCHighThresholdPercent": 100,  # nothing can be pulled again here
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "podLogsDir": str(home / "pod-logs"),
        "resolvConf": "/etc/resolv.conf",
        "maxPods": 32,
        "syncFrequency": "10s",
    }
    config_file = home / "kubelet.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [
        str(k8s_build.NODE.binary("kubelet")),
        f"--config={config_file}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={home / 'kubelet'}",
        f"--hostname-override={NAME}",
        f"--node-ip={address}",
        "--node-labels=" + ",".join(f"{k}={v}" for k, v in LABELS.items()),
    ]
    return cmd, f"http://127.0.0.1:{healthz_port}/healthz"


def proxy_command(home: Path, cluster_info: ClusterInfo) -> tuple[list[str], str]:
    """kube-proxy (iptables mode) for Services: its command line and healthz URL.

    It runs as ``system:kube-proxy``, which the default ``system:node-proxier`` binding
    covers.  Two host-wide changes it would make are turned off: ``localhostNodePorts``
    (it would set ``route_localnet=1`` on every interface) and the conntrack limits and
    timeouts (0 keeps the kernel's values).
    """
    pki = k8s_pki.Pki(cluster_info.ca_cert.parent)
    cert, key = k8s_pki.client(pki, "kube-proxy", "system:kube-proxy")
    kubeconfig = home / "kube-proxy.kubeconfig"
    k8s_pki.write_kubeconfig(kubeconfig, pki, cluster_info.server, user=("system:kube-proxy", cert, key))
    healthz = proc.free_port()
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NAME,
        "clusterCIDR": node_runtime.POD_SUBNET,
        "healthzBindAddress": f"127.0.0.1:{healthz}",
        "metricsBindAddress": f"127.0.0.1:{proc.free_port()}",
        "nodePortAddresses": ["primary"],
        "iptables": {"localhostNodePorts": False},
        "conntrack": {"maxPerCore": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }
    config_file = home / "kube-proxy.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [str(k8s_build.NODE.binary("kube-proxy")), f"--config={config_file}"]
    return cmd, f"http://127.0.0.1:{healthz}/healthz"


def allow_apiserver(api: client.ApiClient) -> None:
    """Let the API server's kubelet client (logs, exec, port-forward) through the kubelet's webhook authz."""
    binding = {
        "metadata": {"name": KUBELET_CLIENT_BINDING},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "system:kubelet-api-admin",
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": k8s_pki.KUBELET_CLIENT_USER}
        ],
    }
    try:
        client.RbacAuthorizationV1Api(api).create_cluster_role_binding(binding)
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def cordon(api: client.ApiClient) -> bool:
    """Mark the registered node unschedulable; True once it is (False: not registered yet).

    The taint alone keeps foreign pods off, but the scheduler's TaintToleration filter then
    counts this node among "node(s) had untolerated taint(s)" for every pod, which changes
    the messages the kwok scheduling tests read (2 GPU nodes become 3).  NodeUnschedulable
    runs before it and sets a cordoned node aside as "node(s) were unschedulable"; pods that
    tolerate ``node.kubernetes.io/unschedulable`` (and the taint) are still placed here.
    The kubelet's old ``--register-schedulable=false`` did the same and is gone.
    """
    core = client.CoreV1Api(api)
    try:
        node = core.read_node(NAME)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    if not node.spec.unschedulable:
        core.patch_node(NAME, {"spec": {"unschedulable": True}})
    return True


def node_ip() -> str:
    """The host's address on its default route (a kubelet refuses a loopback node IP)."""
    route = proc.run(["ip", "-4", "-o", "route", "get", "192.0.2.255"], what="ip route get").split()
    return route[route.index("src") + 1]
