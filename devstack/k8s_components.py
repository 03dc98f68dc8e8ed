"""Command lines of the control-plane processes, in start order, with their health endpoints.

The flags follow controller-runtime's envtest for the API server (client-certificate auth,
RBAC, a service-account signing key and issuer so TokenRequest works, no endpoint
reconciler) and add what envtest leaves out: a controller manager running the default
controller set (deployments, replicasets, jobs, cronjobs, garbage collector, namespaces,
service accounts and their tokens, HPA, disruption budgets, endpoints and endpoint slices),
the default scheduler (topology spread, taints) and kwok.  Everything binds to 127.0.0.1 on
ports chosen free at start; leader election is off because there is a single instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack import k8s_build, kwok_nodes
from devstack.k8s_pki import Pki

SERVICE_CIDR, SERVICE_IP = "10.0.0.0/24", "10.0.0.1"
ISSUER = "https://kubernetes.default.svc.cluster.local"
PORTS = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")


@dataclass(frozen=True)
class Layout:
    """Where a cluster's files live and which ports it uses."""

    home: Path
    pki: Pki
    kubeconfig: Path
    ports: dict[str, int]


@dataclass(frozen=True)
class Component:
    name: str
    command: list[str]
    health_url: str
    verify_tls: bool = False  # components other than the API server serve self-signed certs


def control_plane(layout: Layout) -> list[Component]:
    ports = layout.ports
    return [
        Component("etcd", _etcd(layout), f"http://127.0.0.1:{ports['etcd']}/health"),
        Component(
            "kube-apiserver", _apiserver(layout), f"https://127.0.0.1:{ports['apiserver']}/readyz", True
        ),
        Component(
            "kube-controller-manager",
            _controller_manager(layout),
            f"https://127.0.0.1:{ports['controller-manager']}/healthz",
        ),
        Component(
            "kube-scheduler",
            [_bin("kube-scheduler"), *_client_flags(layout, "scheduler")],
            f"https://127.0.0.1:{ports['scheduler']}/healthz",
        ),
        Component(
            "kwok",
            kwok_nodes.command(
                k8s_build.KWOK.binary("kwok"), k8s_build.kwok_stages_dir(), layout.kubeconfig, ports["kwok"]
            ),
            f"http://127.0.0.1:{ports['kwok']}/healthz",
        ),
    ]


def _etcd(layout: Layout) -> list[str]:
    client_url = f"http://127.0.0.1:{layout.ports['etcd']}"
    peer_url = f"http://127.0.0.1:{layout.ports['etcd-peer']}"
    return [
        str(k8s_build.ETCD.binary("etcd")),
        "--name=cverag",
        f"--data-dir={layout.home / 'etcd-data'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=cverag={peer_url}",
        "--unsafe-no-fsync",  # throwaway test data; fsync would only slow every write
        "--log-level=warn",
    ]


def _apiserver(layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        _bin("kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{layout.ports['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={layout.ports['apiserver']}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--authorization-mode=Node,RBAC",
        # PodNodeSelector/PodTolerationRestriction: a namespace annotated for it sends all its
        # pods to one node pool (the real node, devstack.node), with no field in the pods.
        "--enable-admission-plugins=NodeRestriction,PodNodeSelector,PodTolerationRestriction",
        # A real kubelet (devstack.node) requires authenticated callers; the node's name does
        # not resolve here, its InternalIP does.
        f"--kubelet-client-certificate={pki.kubelet_client_cert}",
        f"--kubelet-client-key={pki.kubelet_client_key}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--service-account-issuer={ISSUER}",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def _controller_manager(layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        _bin("kube-controller-manager"),
        *_client_flags(layout, "controller-manager"),
        f"--cert-dir={layout.home / 'controller-manager-certs'}",
        "--controllers=*",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
    ]


def _client_flags(layout: Layout, port: str) -> list[str]:
    """Flags shared by controller manager and scheduler: admin credentials, loopback serving."""
    kubeconfig = layout.kubeconfig
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--authentication-skip-lookup",  # no front proxy here; skip the request-header CA lookup
        "--bind-address=127.0.0.1",
        f"--secure-port={layout.ports[port]}",
        "--leader-elect=false",
    ]


def _bin(command: str) -> str:
    return str(k8s_build.KUBERNETES.binary(command))
