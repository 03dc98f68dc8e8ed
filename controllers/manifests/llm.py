"""The self-hosted language model of a RagEndpoint: vLLM or Ollama on GPU nodes, as a platform team runs it.

* **Scheduling**: ``nvidia.com/gpu`` (``spec.llm.gpu.resourceName``) in requests and limits, the
  GPU pool's node selector and taint tolerations, zone spread, and a PDB.  With ``gpu.count: 0``
  the pods are ordinary CPU pods (tiny models only).
* **Slow start**: loading 16 GB of weights (after downloading them, on a cold cache) takes
  minutes, so a startup probe allows 30 minutes (180 x 10 s) before liveness takes over;
  ``progressDeadlineSeconds`` is an hour so a cold rollout is not reported stuck.  Rollouts
  go one pod at a time without surge: a surge pod would need a spare GPU, which a GPU pool
  rarely has, and would stay Pending forever.
* **Model cache**: a ReadWriteOnce volume cannot be shared by replicas in different zones, and
  the replicas are spread over zones on purpose.  So when ``modelCache.storageClassName`` is
  given, it must name a ReadWriteMany class (EFS, Filestore, Azure Files, CephFS): one PVC
  ``<name>-llm-models`` is mounted by every replica and the weights are downloaded once for
  all of them.  Without a class, each pod gets its own ReadWriteOnce volume from a generic
  ephemeral volume claim template (provisioned in the pod's zone by the default class):
  always schedulable, but each new pod downloads the weights again.
* **Stable name**: the server also answers to :data:`SERVED_ALIAS`, which is what the RAG API
  asks for, so changing ``spec.llm.model`` rolls only this Deployment, never the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from controllers.api.rag import RagEndpoint
from controllers.manifests.common import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    Manifest,
    child_name,
    env,
    labels,
    metadata,
    secret_env,
    selector,
    zone_spread,
)

KIND = "RagEndpoint"
LLM = "cve-rag-llm"
SERVED_ALIAS = "cverag-llm"
MODELS_DIR = "/models"
# Ollama names models by tag; the spec's default is the Hugging Face id of the same model.
OLLAMA_TAGS = {"meta-llama/Meta-Llama-3-8B-Instruct": "llama3:8b"}
OLLAMA_PULL = """ollama serve & server=$!
until ollama list >/dev/null 2>&1; do sleep 1; done
{ ollama show "$CVERAG_MODEL" >/dev/null 2>&1 || ollama pull "$CVERAG_MODEL"; } &&
  ollama cp "$CVERAG_MODEL" "$CVERAG_ALIAS"
status=$?
kill "$server"
exit "$status"
"""


@dataclass(frozen=True)
class Engine:
    image: str
    port: int
    health: str


ENGINES = {
    "vllm": Engine("vllm/vllm-openai:v0.6.3", 8000, "/health"),
    "ollama": Engine("ollama/ollama:0.3.14", 11434, "/"),
}


def llm_name(rag: RagEndpoint) -> str:
    return child_name(rag.metadata.name, "llm")


def cache_claim_name(rag: RagEndpoint) -> str:
    return child_name(rag.metadata.name, "llm-models")


def served_model(rag: RagEndpoint) -> str:
    model = rag.spec.llm.model
    return OLLAMA_TAGS.get(model, model) if rag.spec.llm.engine == "ollama" else model


def base_url(rag: RagEndpoint) -> str:
    """The OpenAI-compatible base URL the RAG API calls."""
    if rag.spec.llm.engine == "external":
        assert rag.spec.llm.url is not None  # the CRD's CEL rule
        return rag.spec.llm.url
    port = ENGINES[rag.spec.llm.engine].port
    return f"http://{llm_name(rag)}.{rag.metadata.namespace}.svc.cluster.local:{port}/v1"


def _resources(rag: RagEndpoint) -> Manifest:
    spec, gpu = rag.spec.llm.resources, rag.spec.llm.gpu
    requests, limits = dict(spec.requests or {}), dict(spec.limits or {})
    if gpu.count:  # extended resources: request and limit must be equal
        requests[gpu.resource_name] = limits[gpu.resource_name] = gpu.count
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


def _probe(path: str, period: int, failures: int, timeout: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": timeout,
    }


def _server(rag: RagEndpoint) -> Manifest:
    llm, engine = rag.spec.llm, ENGINES[rag.spec.llm.engine]
    if llm.engine == "vllm":
        args = ["--model", llm.model, "--served-model-name", llm.model, SERVED_ALIAS]
        args += ["--port", str(engine.port), "--download-dir", MODELS_DIR]
        args += ["--tensor-parallel-size", str(llm.gpu.count)] if llm.gpu.count > 1 else []
        engine_env = [
            *secret_env("HUGGING_FACE_HUB_TOKEN", llm.hf_token_secret_ref),
            *env("HF_HOME", f"{MODELS_DIR}/huggingface"),
            *env("VLLM_NO_USAGE_STATS", "1"),  # no phoning home from a production cluster
        ]
        command: Manifest = {"args": args}
    else:
        engine_env = [
            *env("OLLAMA_MODELS", f"{MODELS_DIR}/ollama"),
            *env("OLLAMA_HOST", f"0.0.0.0:{engine.port}"),
        ]
        command = {"command": ["ollama", "serve"]}
    return {
        "name": llm.engine,
        "image": llm.image or engine.image,
        **command,
        "env": [*env("HOME", "/tmp"), *engine_env],
        "ports": [{"name": "http", "containerPort": engine.port, "protocol": "TCP"}],
        "resources": _resources(rag),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": _mounts(),
        "startupProbe": _probe(engine.health, 10, 180, 5),
        "readinessProbe": _probe(engine.health, 10, 3, 5),
        "livenessProbe": _probe(engine.health, 20, 6, 10),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _mounts() -> list[Manifest]:
    return [
        {"name": "models", "mountPath": MODELS_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]


def _ollama_pull(rag: RagEndpoint) -> Manifest:
    """Pulls the model into the cache unless it is there already, and names it SERVED_ALIAS."""
    server = _server(rag)
    return {
        "name": "pull-model",
        "image": server["image"],
        "command": ["/bin/sh", "-c", OLLAMA_PULL],
        "env": [*server["env"], *env("CVERAG_MODEL", served_model(rag)), *env("CVERAG_ALIAS", SERVED_ALIAS)],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": _mounts(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def _models_volume(rag: RagEndpoint) -> Manifest:
    cache = rag.spec.llm.model_cache
    if cache.storage_class_name:
        return {"name": "models", "persistentVolumeClaim": {"claimName": cache_claim_name(rag)}}
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": cache.size}}}
    template = {"metadata": {"labels": labels(KIND, rag.metadata.name, LLM)}, "spec": claim}
    return {"name": "models", "ephemeral": {"volumeClaimTemplate": template}}


def model_cache_claim(rag: RagEndpoint) -> Manifest | None:
    """The shared ReadWriteMany cache, when a storage class is given (see the module docstring)."""
    cache = rag.spec.llm.model_cache
    if not cache.storage_class_name:
        return None
    spec = {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": cache.storage_class_name,
        "resources": {"requests": {"storage": cache.size}},
    }
    meta = metadata(cache_claim_name(rag), rag.metadata.namespace, labels(KIND, rag.metadata.name, LLM))
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def llm_deployment(rag: RagEndpoint, service_account: str) -> Manifest:
    llm, spread = rag.spec.llm, rag.spec.availability.zone_spread
    match = selector(KIND, rag.metadata.name, LLM)
    pod_labels = labels(KIND, rag.metadata.name, LLM)
    pod: Manifest = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": POD_SECURITY,
        "containers": [_server(rag)],
        "volumes": [
            _models_volume(rag),
            {"name": "tmp", "emptyDir": {"sizeLimit": "8Gi"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        ],
        "topologySpreadConstraints": zone_spread(match, spread.max_skew, spread.when_unsatisfiable),
        "terminationGracePeriodSeconds": 60,
    }
    if llm.engine == "ollama":
        pod["initContainers"] = [_ollama_pull(rag)]
    if llm.gpu.count:
        pod["nodeSelector"] = dict(llm.gpu.node_selector)
        pod["tolerations"] = [t.model_dump(exclude_none=True, by_alias=True) for t in llm.gpu.tolerations]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(llm_name(rag), rag.metadata.namespace, pod_labels),
        "spec": {
            "selector": {"matchLabels": match},
            "revisionHistoryLimit": 3,
            "progressDeadlineSeconds": 3600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    }
