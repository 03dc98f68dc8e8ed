"""The real node: a kubelet in the local cluster that runs pods as containers.

Every pod here tolerates the node's taint and selects its pool, the way the end-to-end pods
will; the image is the node's probe image (busybox + kube-whoami), imported without a
registry.  ``test_cluster.py`` runs unchanged beside it: the kwok zones and GPU pool keep
serving while the real node is up.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from kubernetes import client

from devstack import k8s_build
from devstack.cluster import ClusterInfo
from devstack.node import NodeInfo
from tests.devstack.node_pods import UID, probe_pod, running
from tests.support.kube import eventually, kubectl

pytestmark = pytest.mark.cluster


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
    core.create_namespaced_pod(ns, probe_pod(real_node, "main", "id; echo started; exec sleep 3600"))
    pod = running(core, ns, "main")
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
    core.create_namespaced_pod(ns, probe_pod(real_node, "whoami", "exec sleep 3600"))
    running(core, ns, "whoami")
    answer = kubectl(cluster.kubeconfig, "-n", ns, "exec", "whoami", "--", "kube-whoami").stdout
    assert answer.startswith("201 Created")
    assert f'"username":"system:serviceaccount:{ns}:default"' in answer
    assert f'"authentication.kubernetes.io/node-name":["{real_node.name}"]' in answer


def test_a_killed_container_is_restarted_by_the_kubelet(
    real_node: NodeInfo, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_pod(ns, probe_pod(real_node, "victim", "exec sleep 3600"))
    first = running(core, ns, "victim").status.container_statuses[0].container_id
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
    pod = probe_pod(
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
    core.create_namespaced_pod(ns, probe_pod(real_node, "intruder", "exec sleep 3600", tolerate=False))

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
    pod = probe_pod(real_node, "plain", "exec sleep 3600")
    del pod["spec"]["nodeSelector"], pod["spec"]["tolerations"]  # as the operator makes its pods
    admitted = core.create_namespaced_pod(ns, pod)
    assert admitted.spec.node_selector == real_node.node_selector, (
        "the namespace's node selector was not applied: the API server runs without the "
        "PodNodeSelector/PodTolerationRestriction admission plugins (started before they were "
        "enabled? `python -m devstack down cluster` and start it again)"
    )
    assert {t.key for t in admitted.spec.tolerations} >= {t["key"] for t in real_node.tolerations}
    assert running(core, ns, "plain").spec.node_name == real_node.name
