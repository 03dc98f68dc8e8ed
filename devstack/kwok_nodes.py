"""Simulated nodes: kwok's command line, the stages it plays, and the Node objects it manages.

kwok has no built-in behaviour; it does what the ``Stage`` objects it is fed say.  We feed
it the stages that ship in its own Go module: nodes become Ready and keep their lease
fresh, pods become Running and Ready once scheduled, and deleted pods go away.  Its
``pod-complete`` stage is deliberately *not* loaded: it would finish every Job pod at once,
while the operator's tests need a Job to stay running until the test decides it is done
(``cluster.complete_job``).  The nodes come from ``k8s/node-pools.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
STAGE_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-delete.yaml",
)
NODE_POOLS = Path(__file__).with_name("k8s") / "node-pools.yaml"
GPU_RESOURCE = "nvidia.com/gpu"


def command(kwok: Path, stages: Path, kubeconfig: Path, server_port: int) -> list[str]:
    """kwok managing only nodes annotated ``kwok.x-k8s.io/node=fake``, never real ones."""
    return [
        str(kwok),
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={MANAGED_ANNOTATION}=fake",
        "--node-lease-duration-seconds=40",
        "--cidr=10.244.0.0/16",
        "--node-ip=127.0.0.1",  # API-server calls to a "kubelet" stay on loopback, where none listens
        f"--server-address=127.0.0.1:{server_port}",
        *(f"--config={stages / f}" for f in STAGE_FILES),
    ]


def node_manifests(pools_file: Path = NODE_POOLS) -> list[dict[str, Any]]:
    """One Node object per node of every pool, labelled like an EKS managed node group."""
    spec = yaml.safe_load(pools_file.read_text())
    nodes = []
    for pool in spec["pools"]:
        for zone in pool["zones"]:
            for index in range(pool["nodesPerZone"]):
                name = f"kwok-{pool['nodegroup']}-{zone}-{index}"
                labels = {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    "topology.kubernetes.io/region": spec["region"],
                    "topology.kubernetes.io/zone": zone,
                    "node.kubernetes.io/instance-type": pool["instanceType"],
                    "eks.amazonaws.com/nodegroup": pool["nodegroup"],
                    "eks.amazonaws.com/capacityType": "ON_DEMAND",
                    **pool["labels"],
                }
                nodes.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "metadata": {
                            "name": name,
                            "labels": labels,
                            "annotations": {MANAGED_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                        },
                        "spec": {"taints": pool["taints"]},
                        "status": {"capacity": pool["capacity"], "allocatable": pool["capacity"]},
                    }
                )
    return nodes


def create_nodes(api: client.ApiClient) -> list[str]:
    """Create (or keep) every fake node; returns their names."""
    core = client.CoreV1Api(api)
    names = []
    for node in node_manifests():
        names.append(node["metadata"]["name"])
        try:
            core.create_node(node)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
    return names


def all_ready(api: client.ApiClient, names: list[str]) -> bool:
    """True once every named node reports Ready=True."""
    ready = {
        n.metadata.name
        for n in client.CoreV1Api(api).list_node().items
        if any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
    }
    return set(names) <= ready
