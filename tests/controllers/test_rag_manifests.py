"""RagEndpoint manifests without a cluster: Ollama's pull-once init container and stable model
name, the per-pod model cache without a storage class, GPU counts, and the RAG API left
untouched by a model change."""

from __future__ import annotations

from typing import Any

from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.manifests.llm import SERVED_ALIAS, llm_deployment, model_cache_claim
from controllers.manifests.rag import api_deployment
from tests.controllers import flows
from tests.controllers.rag_flows import endpoint_body, index_body


def _typed(**spec: Any) -> RagEndpoint:
    body = endpoint_body(**spec)
    body["metadata"].update(namespace="prod", uid="u")
    endpoint: RagEndpoint = RagEndpoint.from_body(body)
    return endpoint


def test_ollama_pulls_the_model_once_into_the_cache_and_serves_it_under_the_stable_name() -> None:
    rag = _typed(llm={"engine": "ollama", "gpu": {"count": 1}})
    pod = llm_deployment(rag, "sa")["spec"]["template"]["spec"]
    pull, server = pod["initContainers"][0], pod["containers"][0]
    pull_env = {e["name"]: e.get("value") for e in pull["env"]}
    assert pull_env["CVERAG_MODEL"] == "llama3:8b" and pull_env["CVERAG_ALIAS"] == SERVED_ALIAS
    assert pull_env["OLLAMA_MODELS"] == "/models/ollama"
    script = pull["command"][-1]
    assert 'ollama show "$CVERAG_MODEL"' in script and "|| ollama pull" in script  # only when missing
    assert server["command"] == ["ollama", "serve"] and server["ports"][0]["containerPort"] == 11434
    assert {"name": "models", "mountPath": "/models"} in server["volumeMounts"]
    # No storage class: a per-pod ReadWriteOnce claim (replicas sit in different zones).
    claim = pod["volumes"][0]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["accessModes"] == ["ReadWriteOnce"] and model_cache_claim(rag) is None


def test_gpu_count_sets_resources_tensor_parallelism_and_placement() -> None:
    two = llm_deployment(_typed(llm={"gpu": {"count": 2}}), "sa")["spec"]["template"]["spec"]
    args, res = two["containers"][0]["args"], two["containers"][0]["resources"]
    assert args[args.index("--tensor-parallel-size") + 1] == "2"
    assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == 2
    cpu_only = llm_deployment(_typed(llm={"gpu": {"count": 0}}), "sa")["spec"]["template"]["spec"]
    assert "nodeSelector" not in cpu_only and "tolerations" not in cpu_only
    assert "nvidia.com/gpu" not in cpu_only["containers"][0]["resources"].get("limits", {})
    assert "--tensor-parallel-size" not in cpu_only["containers"][0]["args"]


def test_a_model_change_leaves_the_api_pod_template_as_it_was() -> None:
    meta = {"name": "cve-qa", "namespace": "prod", "uid": "u"}
    index = CveIndex.from_body({**index_body(), "metadata": {**meta, "name": "cves-minilm"}})
    store = CveStore.from_body({**flows.store_body("cverag"), "metadata": {**meta, "name": "cves"}})
    before = api_deployment(_typed(), index, store)
    after = api_deployment(_typed(llm={"model": "meta-llama/Meta-Llama-3.1-8B-Instruct"}), index, store)
    assert before == after
    env = {e["name"]: e.get("value") for e in after["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CVERAG_LLM_MODEL"] == SERVED_ALIAS
    assert env["CVERAG_LLM_URL"] == "http://cve-qa-llm.prod.svc.cluster.local:8000/v1"


def test_trusted_proxies_and_the_models_context_reach_the_api_env() -> None:
    meta = {"name": "cve-qa", "namespace": "prod", "uid": "u"}
    index = CveIndex.from_body({**index_body(), "metadata": {**meta, "name": "cves-minilm"}})
    store = CveStore.from_body({**flows.store_body("cverag"), "metadata": {**meta, "name": "cves"}})

    def env(rag: RagEndpoint) -> dict[str, Any]:
        pod = api_deployment(rag, index, store)["spec"]["template"]["spec"]
        return {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}

    default = env(_typed())
    assert "CVERAG_TRUSTED_PROXIES" not in default and default["CVERAG_LLM_CONTEXT_TOKENS"] == "8192"
    behind = env(_typed(api={"trustedProxies": ["10.0.0.0/8", "fd00::/8"]}, llm={"contextTokens": 32768}))
    assert behind["CVERAG_TRUSTED_PROXIES"] == "10.0.0.0/8,fd00::/8"
    assert behind["CVERAG_LLM_CONTEXT_TOKENS"] == "32768"
