"""The test cluster behaves like the EKS cluster the operator targets.

Every test takes the ``cluster`` fixture, so it runs against the local control plane (kwok
nodes) and, where a Docker engine exists, against kind.  Each works in its own namespace
and waits with bounded polling, never on wall-clock limits.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kubernetes import client

from devstack.cluster import ClusterInfo, complete_job
from tests.support.kube import exists

pytestmark = pytest.mark.cluster
T = TypeVar("T")
ZONE = "topology.kubernetes.io/zone"
GPU = "nvidia.com/gpu"
PAUSE = "registry.k8s.io/pause:3.10"


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def api(cluster: ClusterInfo) -> Iterator[client.ApiClient]:
    with cluster.api_client() as api_client:
        yield api_client


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    eventually(
        lambda: exists(lambda: core.read_namespaced_service_account("default", name)),
        "the namespace's default ServiceAccount",
    )
    yield name
    core.delete_namespace(name)


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": PAUSE,
        "resources": spec.pop("resources", {"requests": {"cpu": "10m"}}),
    }
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": {"containers": [container], **spec}}


def _nodes(api: client.ApiClient) -> dict[str, Any]:
    return {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}


def _is_gpu(node: Any) -> bool:
    return int(node.status.allocatable.get(GPU, "0")) > 0


def test_ready_nodes_in_three_zones_and_a_tainted_gpu_pool(api: client.ApiClient) -> None:
    nodes = _nodes(api)
    ready = [
        n
        for n in nodes.values()
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    ]
    cpu_zones = Counter(n.metadata.labels.get(ZONE) for n in ready if not _is_gpu(n) and not n.spec.taints)
    assert {"zone-a", "zone-b", "zone-c"} <= set(cpu_zones), cpu_zones
    gpu = [n for n in ready if _is_gpu(n)]
    assert len({n.metadata.labels[ZONE] for n in gpu}) >= 2
    for node in gpu:
        assert node.metadata.labels["nvidia.com/gpu.present"] == "true"
        assert node.metadata.labels["eks.amazonaws.com/nodegroup"] == "gpu"
        assert node.metadata.labels["node.kubernetes.io/instance-type"].startswith("g5.")
        assert any(t.key == GPU and t.effect == "NoSchedule" for t in node.spec.taints or [])


def test_zone_spread_places_two_running_pods_per_zone(api: client.ApiClient, namespace: str) -> None:
    spread = {
        "maxSkew": 1,
        "topologyKey": ZONE,
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}},
    }
    template = _pod("spread", topologySpreadConstraints=[spread])
    client.AppsV1Api(api).create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "spread"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "spread"}}, "template": template},
        },
    )
    core = client.CoreV1Api(api)

    def running() -> list[Any] | None:
        pods = core.list_namespaced_pod(namespace, label_selector="app=spread").items
        up = [p for p in pods if p.status.phase == "Running"]
        return up if len(up) == 6 else None

    nodes = _nodes(api)
    zones = Counter(
        nodes[p.spec.node_name].metadata.labels[ZONE] for p in eventually(running, "6 running pods")
    )
    assert zones == {"zone-a": 2, "zone-b": 2, "zone-c": 2}


def test_gpu_pods_need_the_toleration_to_reach_gpu_nodes(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    toleration = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
    core.create_namespaced_pod(
        namespace, _pod("llm", tolerations=[toleration], resources={"limits": {GPU: "1"}})
    )
    core.create_namespaced_pod(namespace, _pod("intruder", nodeSelector={"nvidia.com/gpu.present": "true"}))

    llm = eventually(
        lambda: (p := core.read_namespaced_pod("llm", namespace)).status.phase == "Running" and p,
        "the GPU pod to run",
    )
    assert _is_gpu(_nodes(api)[llm.spec.node_name])

    def unschedulable() -> Any:
        pod = core.read_namespaced_pod("intruder", namespace)
        cond = [c for c in pod.status.conditions or [] if c.type == "PodScheduled" and c.status == "False"]
        return cond[0] if cond else None

    condition = eventually(unschedulable, "the scheduler to reject the pod without toleration")
    assert condition.reason == "Unschedulable"
    gpu_nodes = [n for n in _nodes(api).values() if _is_gpu(n)]
    assert f"{len(gpu_nodes)} node(s) had untolerated taint" in condition.message
    assert core.read_namespaced_pod("intruder", namespace).spec.node_name is None


def test_crd_cel_rule_rejects_invalid_objects_with_422(api: client.ApiClient, namespace: str) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.cverag.io"
    rule = {
        "rule": "self.minReplicas <= self.maxReplicas",
        "message": "minReplicas must not exceed maxReplicas",
    }
    spec = {
        "type": "object",
        "required": ["minReplicas", "maxReplicas"],
        "x-kubernetes-validations": [rule],
        "properties": {"minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
    }
    crd = {
        "metadata": {"name": f"budgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "budgets", "singular": "budget", "kind": "Budget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec}}},
                }
            ],
        },
    }
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(crd)
    try:
        custom = client.CustomObjectsApi(api)

        def create(name: str, low: int, high: int) -> Any:
            body = {
                "apiVersion": f"{group}/v1",
                "kind": "Budget",
                "metadata": {"name": name},
                "spec": {"minReplicas": low, "maxReplicas": high},
            }
            return custom.create_namespaced_custom_object(group, "v1", namespace, "budgets", body)

        eventually(lambda: _served(lambda: create("valid", 1, 3)), "the CRD to be served")
        with pytest.raises(client.ApiException) as rejected:
            create("invalid", 5, 2)
        assert rejected.value.status == 422
        assert "minReplicas must not exceed maxReplicas" in rejected.value.body
    finally:
        extensions.delete_custom_resource_definition(f"budgets.{group}")


def _served(create: Callable[[], Any]) -> bool:
    try:
        create()
    except client.ApiException as exc:
        if exc.status == 404:  # the new resource is not in the API server's routes yet
            return False
        raise
    return True


def test_rbac_denies_a_service_account_until_a_role_is_bound(api: client.ApiClient, namespace: str) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "operator"}})
    token = core.create_namespaced_service_account_token(
        "operator", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    as_operator = client.Configuration()
    as_operator.host, as_operator.ssl_ca_cert = api.configuration.host, api.configuration.ssl_ca_cert
    as_operator.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(as_operator) as operator_api:
        operator = client.CoreV1Api(operator_api)
        with pytest.raises(client.ApiException) as denied:
            operator.list_namespaced_pod(namespace)
        assert denied.value.status == 403
        assert f"system:serviceaccount:{namespace}:operator" in denied.value.body

        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "operator-reads-pods"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}],
            },
        )
        eventually(
            lambda: _allowed(lambda: operator.list_namespaced_pod(namespace)), "the RoleBinding to apply"
        )
        with pytest.raises(client.ApiException) as still_denied:
            operator.list_namespaced_secret(namespace)
        assert still_denied.value.status == 403


def _allowed(call: Callable[[], Any]) -> bool:
    try:
        call()
    except client.ApiException as exc:
        if exc.status == 403:
            return False
        raise
    return True


def test_deleting_a_deployment_cascades_to_its_pods(api: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "owner"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "owner"}}, "template": _pod("owner")},
        },
    )
    eventually(
        lambda: len(core.list_namespaced_pod(namespace, label_selector="app=owner").items) == 2, "2 pods"
    )
    apps.delete_namespaced_deployment("owner", namespace, propagation_policy="Background")
    eventually(
        lambda: (
            not core.list_namespaced_pod(namespace, label_selector="app=owner").items
            and not apps.list_namespaced_replica_set(namespace).items
        ),
        "garbage collection of RS and pods",
    )


def test_job_stays_active_until_the_test_completes_it(
    cluster: ClusterInfo, api: client.ApiClient, namespace: str
) -> None:
    if cluster.provider != "local":
        pytest.skip("complete_job stands in for kwok's missing kubelet; on kind a real kubelet runs the pod")
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "ingest"},
            "spec": {"template": {"spec": {**_pod("ingest")["spec"], "restartPolicy": "Never"}}},
        },
    )
    eventually(
        lambda: [p for p in core.list_namespaced_pod(namespace).items if p.status.phase == "Running"],
        "the job's pod to run",
    )
    job = batch.read_namespaced_job_status("ingest", namespace)
    assert job.status.active == 1 and not job.status.succeeded and not job.status.completion_time
    done = complete_job(api, namespace, "ingest")
    assert done.status.succeeded == 1 and done.status.completion_time is not None
    assert {c.type for c in done.status.conditions if c.status == "True"} >= {
        "SuccessCriteriaMet",
        "Complete",
    }
