"""RagEndpoint on the local control plane (kwok nodes in three zones, a GPU pool in two): LLM pods
only on GPU nodes and spread, API pods spread over three zones, HPA/PDB numbers, status.url,
IndexNotReady until the index is, the API container served here from its pod spec, rollouts
that touch only the changed Deployment, Ingress with cert-manager, and deletion."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.controllers import helpers
from tests.controllers.rag_flows import (
    ENDPOINT,
    INDEX,
    delete_own,
    deployment,
    endpoint_body,
    endpoint_secrets,
    index_body,
    prepare_store,
    served_locally,
    sync_once,
    zones_of,
)
from tests.support.kube import eventually, install_crds

LLM_PODS = "app.kubernetes.io/name=cve-rag-llm,app.kubernetes.io/instance=cve-qa"
API_PODS = "app.kubernetes.io/name=cve-rag-api,app.kubernetes.io/instance=cve-qa"
OWNED = "cverag.io/ragendpoint=cve-qa"
CERT_MANAGER_CRD = Path(__file__).with_name("crds") / "cert-manager-certificate.yaml"
SMALL_GPU_POD = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "12Gi"}}


@pytest.fixture
def own(kube: client.ApiClient, ns: str, pg_schema: str) -> Iterator[str]:
    yield ns
    delete_own(kube, ns)


@pytest.fixture
def rwx_class(kube: client.ApiClient) -> Iterator[str]:
    """A ReadWriteMany PersistentVolume of a class of its own, as EFS would provide, for the model cache."""
    name = f"t-models-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube)
    volume = client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "100Gi"},
            access_modes=["ReadWriteMany"],
            storage_class_name=name,
            persistent_volume_reclaim_policy="Retain",
            nfs=client.V1NFSVolumeSource(server="fs-models.efs.example.internal", path="/"),
        ),
    )
    core.create_persistent_volume(volume)
    yield name
    core.delete_persistent_volume(name)


@pytest.fixture
def cert_manager(kube: client.ApiClient) -> Iterator[None]:
    """cert-manager's Certificate CRD, held under the cross-session lock on optional CRDs."""
    with helpers.optional_crds(exclusive=True):
        install_crds(kube, [CERT_MANAGER_CRD])
        yield
        client.ApiextensionsV1Api(kube).delete_custom_resource_definition("certificates.cert-manager.io")


@pytest.mark.cluster
@pytest.mark.postgres
@pytest.mark.slow
def test_vllm_endpoint_on_gpu_nodes_spread_ready_with_its_index_and_serving(
    kube: client.ApiClient,
    own: str,
    postgres: Any,
    pg_schema: str,
    shared_data: Path,
    rwx_class: str,
    cluster: Any,
    tmp_path: Path,
) -> None:
    ns, api_key = own, f"key-{uuid.uuid4().hex}"
    prepare_store(kube, ns, postgres.dsn, pg_schema, shared_data)
    helpers.create(kube, ns, "cveindexes", index_body())
    endpoint_secrets(kube, ns, api_key)
    llm: dict[str, Any] = {"minReplicas": 2, "maxReplicas": 2, "resources": SMALL_GPU_POD}
    llm["modelCache"] = {"size": "40Gi", "storageClassName": rwx_class}
    helpers.create(kube, ns, "ragendpoints", endpoint_body(llm=llm))

    obj = helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "Ready", "False", "IndexNotReady")
    assert helpers.condition(obj, "APIReady")["reason"] == "IndexNotReady"  # type: ignore[index]
    sync_once(kube, ns)
    helpers.wait_condition(kube, ns, "cveindexes", INDEX, "Ready", "True")
    obj = helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "Ready", "True")
    assert helpers.condition(obj, "LLMReady")["status"] == "True"  # type: ignore[index]

    llm_pods = eventually(lambda: zones_of(kube, ns, LLM_PODS, 2), "2 running LLM pods")
    assert llm_pods["gpu"] == Counter({"true": 2}) and llm_pods["zone"] == Counter({"zone-a": 1, "zone-b": 1})
    api_pods = eventually(lambda: zones_of(kube, ns, API_PODS, 3), "3 running API pods")
    assert api_pods["zone"] == Counter({"zone-a": 1, "zone-b": 1, "zone-c": 1})
    assert api_pods["gpu"] == Counter({"no": 3})

    autoscaling, policy = client.AutoscalingV2Api(kube), client.PolicyV1Api(kube)
    for name, numbers in (("cve-qa-llm", (2, 2)), ("cve-qa-api", (3, 6))):
        hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler(name, ns)
        assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == numbers
        assert policy.read_namespaced_pod_disruption_budget(name, ns).spec.max_unavailable == 1
    claim = client.CoreV1Api(kube).read_namespaced_persistent_volume_claim("cve-qa-llm-models", ns)
    assert claim.spec.access_modes == ["ReadWriteMany"] and claim.status.phase == "Bound"
    _check_llm_pod_spec(deployment(kube, ns, "cve-qa-llm"))

    url = f"http://cve-qa-api.{ns}.svc.cluster.local"
    obj = helpers.wait_for(
        kube, ns, "ragendpoints", ENDPOINT, lambda o: o["status"].get("readyReplicas") == 3, "3"
    )
    assert obj["status"]["url"] == url and obj["status"]["llmReadyReplicas"] == 2
    row = helpers.columns(cluster.kubeconfig, ns, "ragendpoints")[0]
    assert (row["READY"], row["ENGINE"], row["REPLICAS"], row["URL"]) == ("True", "vllm", "3", url)

    api = deployment(kube, ns, "cve-qa-api")
    assert api is not None
    container = api["spec"]["template"]["spec"]["containers"][0]
    with served_locally(kube, ns, container, tmp_path / "rag-api.log") as base:
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        denied = httpx.post(f"{base}/v1/search", json={"query": "buffer overflow"}, timeout=60)
        assert denied.status_code == 401  # the API key Secret reached the pod
        found = httpx.post(
            f"{base}/v1/search",
            json={"query": "remote code execution vulnerability", "top_k": 5},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=120,
        )
    assert found.status_code == 200, found.text
    results = found.json()["results"]
    assert 1 <= len(results) <= 5 and all(r["cve_id"].startswith("CVE-") for r in results)


@pytest.mark.cluster
@pytest.mark.postgres
@pytest.mark.slow
def test_ollama_endpoint_waits_for_a_gpu_until_its_pods_fit(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str, rwx_class: str
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    helpers.create(kube, ns, "cveindexes", index_body())
    endpoint_secrets(kube, ns, "key")
    body = endpoint_body()
    # Two GPUs per pod, and the GPU pool's g5.xlarge nodes have one each: nothing fits.
    body["spec"]["llm"] = {
        "engine": "ollama",
        "model": "llama3:8b",
        "gpu": {"count": 2},
        "minReplicas": 1,
        "maxReplicas": 1,
        "resources": SMALL_GPU_POD,
        "modelCache": {"size": "20Gi", "storageClassName": rwx_class},
    }
    helpers.create(kube, ns, "ragendpoints", body)

    obj = helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "LLMReady", "False", "WaitingForGPU")
    assert "nvidia.com/gpu" in helpers.condition(obj, "LLMReady")["message"]  # type: ignore[index]
    assert helpers.condition(obj, "Ready")["status"] == "False"  # type: ignore[index]
    assert helpers.condition(obj, "Reconciling")["status"] == "True"  # type: ignore[index]
    assert helpers.condition(obj, "Stalled")["status"] == "False"  # type: ignore[index]
    pod = eventually(lambda: deployment(kube, ns, "cve-qa-llm"), "the LLM Deployment")["spec"]["template"][
        "spec"
    ]
    pull = pod["initContainers"][0]
    assert pull["image"] == pod["containers"][0]["image"] and pull["image"].startswith("ollama/ollama:")
    assert {"name": "CVERAG_MODEL", "value": "llama3:8b"} in pull["env"]
    assert "ollama pull" in pull["command"][-1]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["persistentVolumeClaim"] == {"claimName": "cve-qa-llm-models"}  # pulled once, shared

    helpers.patch_spec(kube, ns, "ragendpoints", ENDPOINT, {"llm": {"gpu": {"count": 1}}})
    helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "LLMReady", "True")
    llm_pods = eventually(lambda: zones_of(kube, ns, LLM_PODS, 1), "a running LLM pod")
    assert llm_pods["gpu"] == Counter({"true": 1})


def _check_llm_pod_spec(found: dict[str, Any] | None) -> None:
    assert found is not None
    pod = found["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert (
        server["resources"]["limits"]["nvidia.com/gpu"] == server["resources"]["requests"]["nvidia.com/gpu"]
    )
    assert server["args"][:2] == ["--model", "meta-llama/Meta-Llama-3-8B-Instruct"]
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 20 * 60
    token = next(e for e in server["env"] if e["name"] == "HUGGING_FACE_HUB_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "huggingface-token", "key": "token"}


def _generation(kube: client.ApiClient, ns: str, name: str) -> tuple[int, Any]:
    found = deployment(kube, ns, name)
    assert found is not None
    return found["metadata"]["generation"], found["spec"]["template"]


def _observed(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    return helpers.wait_for(
        kube,
        ns,
        "ragendpoints",
        ENDPOINT,
        lambda o: (
            helpers.condition(o, "Ready") is not None
            and all(c["observedGeneration"] == o["metadata"]["generation"] for c in o["status"]["conditions"])
        ),
        "conditions of the current generation",
    )


@pytest.mark.cluster
@pytest.mark.postgres
@pytest.mark.slow
def test_spec_changes_roll_only_the_affected_deployment_and_deletion_leaves_nothing(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    helpers.create(kube, ns, "cveindexes", index_body())
    endpoint_secrets(kube, ns, "key")
    helpers.create(kube, ns, "ragendpoints", endpoint_body(llm={"resources": SMALL_GPU_POD}))
    # No storage class: each LLM pod gets its own ephemeral claim, which this cluster cannot provision.
    helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "LLMReady", "False", "WaitingForModelCache")
    eventually(lambda: deployment(kube, ns, "cve-qa-api"), "the API Deployment")
    _observed(kube, ns)
    llm_gen, llm_template = _generation(kube, ns, "cve-qa-llm")
    api_gen, api_template = _generation(kube, ns, "cve-qa-api")

    new_model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    helpers.patch_spec(kube, ns, "ragendpoints", ENDPOINT, {"llm": {"model": new_model}})
    eventually(lambda: _generation(kube, ns, "cve-qa-llm")[0] == llm_gen + 1, "the LLM Deployment rolled")
    _observed(kube, ns)
    assert _generation(kube, ns, "cve-qa-llm")[1]["spec"]["containers"][0]["args"][1] == new_model
    assert _generation(kube, ns, "cve-qa-api") == (api_gen, api_template)
    llm_state = _generation(kube, ns, "cve-qa-llm")

    helpers.patch_spec(kube, ns, "ragendpoints", ENDPOINT, {"api": {"maxReplicas": 9}})
    hpa = client.AutoscalingV2Api(kube)
    eventually(
        lambda: hpa.read_namespaced_horizontal_pod_autoscaler("cve-qa-api", ns).spec.max_replicas == 9,
        "the API HPA at 9",
    )
    _observed(kube, ns)
    assert _generation(kube, ns, "cve-qa-api") == (api_gen, api_template)
    assert _generation(kube, ns, "cve-qa-llm") == llm_state
    assert llm_template != llm_state[1]

    delete_own(kube, ns)
    eventually(lambda: not _leftovers(kube, ns), "nothing of the endpoint left", attempts=240)


def _leftovers(kube: client.ApiClient, ns: str) -> list[str]:
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    lists = {
        "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set,
        "Pod": core.list_namespaced_pod,
        "Service": core.list_namespaced_service,
        "ServiceAccount": core.list_namespaced_service_account,
        "PersistentVolumeClaim": core.list_namespaced_persistent_volume_claim,
        "HorizontalPodAutoscaler": client.AutoscalingV2Api(kube).list_namespaced_horizontal_pod_autoscaler,
        "PodDisruptionBudget": client.PolicyV1Api(kube).list_namespaced_pod_disruption_budget,
        "Ingress": client.NetworkingV1Api(kube).list_namespaced_ingress,
    }
    found = [f"{kind}/{o.metadata.name}" for kind, call in lists.items() for o in call(ns).items]
    return [f for f in found if "cve-qa" in f or "cves-minilm" in f]


@pytest.mark.cluster
@pytest.mark.postgres
@pytest.mark.slow
def test_external_llm_behind_an_ingress_with_a_cert_manager_certificate(
    kube: client.ApiClient, own: str, postgres: Any, pg_schema: str, cert_manager: None
) -> None:
    ns = own
    prepare_store(kube, ns, postgres.dsn, pg_schema, None)
    helpers.create(kube, ns, "cveindexes", index_body())
    endpoint_secrets(kube, ns, "key")
    helpers.secret(kube, ns, "llm-key", {"key": "sk-test"})
    llm: dict[str, Any] = {"engine": "external", "url": "http://llm.example.internal:8080/v1"}
    llm["apiKeySecretRef"] = {"name": "llm-key", "key": "key"}
    tls = {"issuerRef": {"name": "letsencrypt"}, "issuerKind": "ClusterIssuer"}
    exposure = {"ingress": {"host": "qa.cves.example.com", "className": "nginx", "tls": tls}}
    helpers.create(kube, ns, "ragendpoints", endpoint_body(llm=llm, exposure=exposure))

    obj = helpers.wait_condition(kube, ns, "ragendpoints", ENDPOINT, "LLMReady", "True", "External")
    assert obj["status"]["url"] == "https://qa.cves.example.com"
    assert deployment(kube, ns, "cve-qa-llm") is None
    networking = client.NetworkingV1Api(kube)
    ingress = eventually(lambda: networking.list_namespaced_ingress(ns).items, "the Ingress")[0]
    assert ingress.metadata.annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress.spec.ingress_class_name == "nginx" and ingress.spec.tls[0].secret_name == "cve-qa-tls"
    assert ingress.spec.rules[0].http.paths[0].backend.service.name == "cve-qa-api"
    certificates = client.CustomObjectsApi(kube)
    cert = eventually(
        lambda: certificates.list_namespaced_custom_object("cert-manager.io", "v1", ns, "certificates")[
            "items"
        ],
        "the Certificate",
    )[0]
    assert cert["spec"]["dnsNames"] == ["qa.cves.example.com"] and cert["spec"]["secretName"] == "cve-qa-tls"
    api = eventually(lambda: deployment(kube, ns, "cve-qa-api"), "the API Deployment")
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CVERAG_LLM_URL"]["value"] == "http://llm.example.internal:8080/v1"
    assert env["CVERAG_LLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "llm-key", "key": "key"}

    helpers.patch_spec(kube, ns, "ragendpoints", ENDPOINT, {"exposure": {"ingress": None}})
    eventually(lambda: not networking.list_namespaced_ingress(ns).items, "the Ingress removed")
    eventually(
        lambda: (
            not certificates.list_namespaced_custom_object("cert-manager.io", "v1", ns, "certificates")[
                "items"
            ]
        ),
        "the Certificate removed",
    )
    obj = helpers.wait_for(
        kube, ns, "ragendpoints", ENDPOINT, lambda o: o["status"]["url"].startswith("http://"), "service URL"
    )
    assert obj["status"]["url"] == f"http://cve-qa-api.{ns}.svc.cluster.local"
