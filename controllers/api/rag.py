"""RagEndpoint: a self-hosted Llama 3 deployment plus the RAG API answering CVE questions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from controllers.api.common import (
    BaseStatus,
    CrdModel,
    Kind,
    LocalRef,
    NetworkPolicies,
    Quantity,
    Resources,
    SecretKeyRef,
    Toleration,
    cel,
    column,
    immutable,
)
from controllers.api.version import IMAGE

Replicas = Annotated[int, Field(ge=0, le=100)]
Image = Annotated[str, Field(min_length=1, max_length=512)]


def replicas_rule(where: str) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.minReplicas <= self.maxReplicas", f"{where}.minReplicas must not exceed maxReplicas"
                )
            ]
        }
    )


class Gpu(CrdModel):
    """GPU scheduling of the LLM pods."""

    count: Annotated[int, Field(ge=0, le=16)] = 1
    """GPUs per LLM pod (0 runs on CPU, for small models only)."""
    resource_name: Annotated[str, Field(min_length=1, max_length=253)] = "nvidia.com/gpu"
    """Extended resource name the device plugin advertises."""
    node_selector: dict[str, str] = Field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    """Labels of the GPU nodes."""
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
    )
    """Tolerations for the GPU nodes' taints."""


class ModelCache(CrdModel):
    """A PersistentVolumeClaim where model weights are downloaded once."""

    size: Quantity = "40Gi"
    """Size of the cache volume (Llama 3 8B in bf16 is ~16 GB)."""
    storage_class_name: Annotated[str, Field(max_length=253)] | None = None
    """StorageClass of the volume; the cluster default when unset."""


class Llm(CrdModel):
    """The language model that writes explanations."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.engine != 'external' || has(self.url)", "llm.engine external needs llm.url"),
                cel("self.minReplicas <= self.maxReplicas", "llm.minReplicas must not exceed maxReplicas"),
            ]
        }
    )

    engine: Literal["vllm", "ollama", "external"] = "vllm"
    """vllm or ollama deploy the model on GPU nodes; external uses an existing OpenAI-compatible URL."""
    model: Annotated[str, Field(min_length=1, max_length=256)] = "meta-llama/Meta-Llama-3-8B-Instruct"
    """Model served (vLLM: a Hugging Face id; Ollama: a tag such as llama3:8b)."""
    context_tokens: Annotated[int, Field(ge=1024, le=1048576)] = 8192
    """The model's context length in tokens (8192 for Llama 3 8B); the API cuts a prompt's records to fit, leaving room for the answer."""
    image: Image | None = None
    """Server image; defaults to the engine's official image."""
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")] | None = None
    """Base URL of an external OpenAI-compatible server (engine external)."""
    api_key_secret_ref: SecretKeyRef | None = None
    """API key of the external server."""
    hf_token_secret_ref: SecretKeyRef | None = None
    """Hugging Face token for gated models such as Llama 3 (vLLM)."""
    gpu: Gpu = Field(default_factory=Gpu)
    """GPU scheduling."""
    resources: Resources = Field(
        default_factory=lambda: Resources(requests={"cpu": "4", "memory": "24Gi"}, limits={"memory": "32Gi"})
    )
    """CPU and memory of each LLM pod (GPUs come from gpu.count)."""
    min_replicas: Replicas = 1
    """Fewest LLM pods."""
    max_replicas: Replicas = 2
    """Most LLM pods."""
    model_cache: ModelCache = Field(default_factory=ModelCache)
    """Where weights are cached."""


class Api(CrdModel):
    """The RAG API Deployment."""

    model_config = replicas_rule("api")

    image: Image = IMAGE
    """Container image with the cverag workloads; by default this release's own image."""
    min_replicas: Replicas = 2
    """Fewest API pods."""
    max_replicas: Replicas = 6
    """Most API pods."""
    api_key_secret_ref: SecretKeyRef | None = None
    """Secret key holding the accepted API keys (comma-separated); unset disables auth."""
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=100000)] = 60
    """Requests per minute per API key."""
    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    """Records retrieved per question."""
    trusted_proxies: Annotated[
        list[Annotated[str, Field(max_length=49, pattern=r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$")]],
        Field(max_length=32),
    ] = Field(default_factory=list)
    """CIDRs of the proxies (e.g. the ingress controller's pods) whose X-Forwarded-For names the client; from any other peer it is ignored, and without any the TCP peer is the client."""
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests={"cpu": "250m", "memory": "512Mi"}, limits={"memory": "2Gi"}
        )
    )
    """Resources of each API pod."""


class ZoneSpread(CrdModel):
    """Spreading of pods over topology.kubernetes.io/zone."""

    max_skew: Annotated[int, Field(ge=1, le=10)] = 1
    """Largest allowed difference in pods between two zones."""
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = "ScheduleAnyway"
    """DoNotSchedule keeps pods pending rather than unbalance zones."""


class Pdb(CrdModel):
    """PodDisruptionBudget of the LLM and API pods: exactly one of minAvailable or maxUnavailable."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.minAvailable) != has(self.maxUnavailable)",
                    "pdb needs exactly one of minAvailable or maxUnavailable",
                )
            ]
        }
    )

    min_available: Quantity | None = None
    """Pods (or a percentage) that must stay up during voluntary disruptions."""
    max_unavailable: Quantity | None = None
    """Pods (or a percentage) that may be down during voluntary disruptions."""


class Availability(CrdModel):
    """How the endpoint survives node and zone loss."""

    zone_spread: ZoneSpread = Field(default_factory=ZoneSpread)
    """Zone spreading of LLM and API pods."""
    pdb: Pdb = Field(default_factory=lambda: Pdb(max_unavailable=1))
    """Disruption budget of LLM and API pods."""


class Tls(CrdModel):
    """TLS of the Ingress through cert-manager."""

    issuer_ref: LocalRef | None = None
    """cert-manager Issuer (or ClusterIssuer, with kind) that signs the certificate."""
    issuer_kind: Literal["Issuer", "ClusterIssuer"] = "ClusterIssuer"
    """Kind of issuerRef."""


class Ingress(CrdModel):
    """Expose the API through an Ingress."""

    host: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    """Public host name."""
    class_name: Annotated[str, Field(max_length=253)] | None = None
    """IngressClass, e.g. alb or nginx."""
    tls: Tls | None = None
    """Serve https with a cert-manager certificate."""


class Exposure(CrdModel):
    """How clients outside the cluster reach the API."""

    ingress: Ingress | None = None
    """An Ingress in front of the API Service."""


class RagNetworkPolicies(NetworkPolicies):
    """Network policies of a RAG endpoint: the API is reached from the ingress controller's
    namespaces and its own namespace; the LLM only from the API."""

    ingress_namespaces: list[Annotated[str, Field(min_length=1, max_length=63)]] = Field(
        default_factory=lambda: ["ingress-nginx"], max_length=16
    )
    """Namespaces of the ingress controllers allowed to reach the API (besides the endpoint's own)."""


class RagEndpointSpec(CrdModel):
    """Desired state of a RAG endpoint."""

    index_ref: Annotated[LocalRef, Field(json_schema_extra=immutable("indexRef"))]
    """The CveIndex the API retrieves from (its store provides the facts)."""
    llm: Llm = Field(default_factory=Llm)
    """The language model."""
    api: Api = Field(default_factory=Api)
    """The RAG API."""
    availability: Availability = Field(default_factory=Availability)
    """Spreading and disruption budgets."""
    exposure: Exposure = Field(default_factory=Exposure)
    """External exposure."""
    network_policy: RagNetworkPolicies = Field(default_factory=RagNetworkPolicies)
    """Network policies of the API and LLM pods."""


class RagEndpointStatus(BaseStatus):
    """Observed state of a RAG endpoint."""

    url: str | None = None
    """Where to call the API: the Ingress https URL, else the in-cluster Service URL."""
    ready_replicas: int | None = None
    """API pods ready."""
    llm_ready_replicas: int | None = None
    """LLM pods ready."""
    model: str | None = None
    """Model served."""


class RagEndpoint(Kind):
    """A served RAG endpoint: Llama 3 on GPU nodes plus the API that answers with citations."""

    kind = "RagEndpoint"
    plural = "ragendpoints"
    short_names = ("rag",)
    extra_columns = (
        column("Engine", ".spec.llm.engine"),
        column("Model", ".spec.llm.model", priority=1),
        column("Replicas", ".status.readyReplicas", "integer"),
        column("URL", ".status.url"),
    )

    spec: RagEndpointSpec
    status: RagEndpointStatus = Field(default_factory=RagEndpointStatus)
