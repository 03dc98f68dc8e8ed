"""Pod networking on the kind cluster, in place of kindnetd (not obtainable offline).

kindnetd does three things on every node: writes a CNI configuration for the node's pod CIDR,
routes every other node's pod CIDR via that node's address, and masquerades pod traffic that
leaves the pod network.  The nodes of a test cluster never change once created, so this does
the same once, from outside, with ``docker exec``: a ``bridge`` + ``host-local`` configuration
(Debian's CNI plugins in the node image), one route per other node, one NAT rule.  The nodes
turn Ready when their CNI configuration appears.
"""

from __future__ import annotations

import json
import subprocess

from kubernetes import client

from devstack.docker_engine import DockerInfo

POD_SUBNET = "10.244.0.0/16"  # kind's default podSubnet
CONFIG_PATH = "/etc/cni/net.d/10-cverag-bridge.conflist"


def cni_config(pod_cidr: str) -> dict[str, object]:
    """The node's CNI configuration: a bridge that is the pods' gateway, addresses from its CIDR."""
    bridge = {
        "type": "bridge",
        "bridge": "cni0",
        "isGateway": True,
        "ipMasq": False,  # masqueraded below only when leaving the pod network, as kindnetd does
        "hairpinMode": True,  # a pod reaching itself through its Service
        "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]},
    }
    portmap = {"type": "portmap", "capabilities": {"portMappings": True}}
    return {"cniVersion": "0.4.0", "name": "cverag-kind", "plugins": [bridge, portmap]}


def configure(engine: DockerInfo, api: client.ApiClient) -> None:
    """Give every node its CNI configuration, routes to the others' pods and the NAT rule."""
    nodes = {n.metadata.name: (_address(n), n.spec.pod_cidr) for n in client.CoreV1Api(api).list_node().items}
    if any(cidr is None for _, cidr in nodes.values()):
        raise RuntimeError(f"a kind node has no pod CIDR yet: {nodes}")
    for name, (_, cidr) in nodes.items():
        routes = [f"ip route replace {c} via {a}" for other, (a, c) in nodes.items() if other != name]
        nat = f"-s {cidr} ! -d {POD_SUBNET} -j MASQUERADE"
        script = [
            *routes,
            f"iptables -t nat -C POSTROUTING {nat} 2>/dev/null || iptables -t nat -A POSTROUTING {nat}",
            f"mkdir -p /etc/cni/net.d && cat > {CONFIG_PATH}",
        ]
        docker_exec = ["exec", "-i", name, "sh", "-euc", " && ".join(script)]
        _with_stdin(engine, docker_exec, json.dumps(cni_config(cidr), indent=2))


def _address(node: client.V1Node) -> str:
    return str(next(a.address for a in node.status.addresses if a.type == "InternalIP"))


def _with_stdin(engine: DockerInfo, args: list[str], text: str) -> None:
    done = subprocess.run(["docker", *args], env=engine.env, input=text, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} failed: {done.stderr.strip()}")
