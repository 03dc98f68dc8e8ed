"""Children of a RagEndpoint besides the LLM server: the RAG API, Services, autoscalers and budgets.

The API pod is ``python -m workloads.rag`` configured only through env (the fields of
:class:`~workloads.rag.settings.RagSettings`): the store's PostgreSQL env, the index's backend and
embedding env (the same :func:`~controllers.manifests.index.index_env` the sync pod gets,
so questions are embedded with the model the index was built with), the LLM Service URL,
and Secrets by reference.  It asks the LLM for :data:`~controllers.manifests.llm.SERVED_ALIAS`,
so a model change does not touch this template.
"""

from __future__ import annotations

from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.dataplane.contract import RagSettings
from controllers.manifests import common
from controllers.manifests.common import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    TMP_MOUNT,
    TMP_VOLUME,
    Manifest,
    child_name,
    hpa,
    labels,
    metadata,
    pdb,
    resources,
    secret_setting,
    selector,
    service,
    setting,
    zone_spread,
)
from controllers.manifests.index import cpu_threads, index_env
from controllers.manifests.llm import ENGINES, KIND, SERVED_ALIAS, base_url, llm_name
from controllers.manifests.store import postgres_env

API = "cve-rag-api"
API_PORT = 8000
SERVICE_PORT = 80
LLM_CPU_TARGET = 80  # vLLM's CPU use follows its request load; GPU metrics need an adapter
API_CPU_TARGET = 70


def api_name(rag: RagEndpoint) -> str:
    return child_name(rag.metadata.name, "api")


def service_account_name(rag: RagEndpoint) -> str:
    return child_name(rag.metadata.name, "rag")


def service_account(rag: RagEndpoint) -> Manifest:
    """The endpoint's pods' identity, with no API token: neither the API nor the LLM calls Kubernetes."""
    return common.service_account(
        service_account_name(rag), rag.metadata.namespace, labels(KIND, rag.metadata.name, API)
    )


def api_env(rag: RagEndpoint, index: CveIndex, store: CveStore) -> list[Manifest]:
    api, llm = rag.spec.api, rag.spec.llm
    external = llm.engine == "external"
    return [
        *postgres_env(store, RagSettings),
        *index_env(index, cpu_threads(api.resources), RagSettings),
        *setting(RagSettings, "llm_url", base_url(rag)),
        *setting(RagSettings, "llm_model", llm.model if external else SERVED_ALIAS),
        *setting(RagSettings, "llm_context_tokens", llm.context_tokens),
        *secret_setting(RagSettings, "llm_api_key", llm.api_key_secret_ref if external else None),
        *secret_setting(RagSettings, "api_keys", api.api_key_secret_ref),
        *setting(RagSettings, "rate_limit_per_minute", api.rate_limit_per_minute),
        *setting(RagSettings, "top_k", api.top_k),
        *setting(RagSettings, "trusted_proxies", ",".join(api.trusted_proxies) or None),
        *setting(RagSettings, "port", API_PORT),
    ]


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def api_deployment(rag: RagEndpoint, index: CveIndex, store: CveStore) -> Manifest:
    """The API; ``replicas`` is the HPA's.  Ready = store and index answer (``/readyz``)."""
    match = selector(KIND, rag.metadata.name, API)
    pod_labels = labels(KIND, rag.metadata.name, API)
    spread = rag.spec.availability.zone_spread
    main = {
        "name": "api",
        "image": rag.spec.api.image,
        "command": ["python", "-m", "workloads.rag"],
        "env": api_env(rag, index, store),
        "ports": [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}],
        "resources": resources(rag.spec.api.resources),
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [TMP_MOUNT],
        "startupProbe": _probe("/healthz", 5, 60),
        "readinessProbe": _probe("/readyz", 10, 3),
        "livenessProbe": _probe("/healthz", 20, 3),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    hosts = {**zone_spread(match)[0], "topologyKey": "kubernetes.io/hostname"}
    pod = {
        "serviceAccountName": service_account_name(rag),
        "automountServiceAccountToken": False,
        "securityContext": POD_SECURITY,
        "containers": [main],
        "volumes": [TMP_VOLUME],
        "topologySpreadConstraints": [
            *zone_spread(match, spread.max_skew, spread.when_unsatisfiable),
            hosts,
        ],
        "terminationGracePeriodSeconds": 30,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(api_name(rag), rag.metadata.namespace, pod_labels),
        "spec": {
            "selector": {"matchLabels": match},
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    }


def companions(rag: RagEndpoint, component: str) -> list[Manifest]:
    """Service, HPA and PDB of the API (component API) or of the LLM server (component LLM)."""
    ns, name = rag.metadata.namespace, rag.metadata.name
    is_api = component == API
    child = api_name(rag) if is_api else llm_name(rag)
    scale = rag.spec.api if is_api else rag.spec.llm
    port = SERVICE_PORT if is_api else ENGINES[rag.spec.llm.engine].port
    budget = rag.spec.availability.pdb
    own, match = labels(KIND, name, component), selector(KIND, name, component)
    cpu = API_CPU_TARGET if is_api else LLM_CPU_TARGET
    return [
        service(child, ns, own, match, port),
        hpa(child, ns, own, scale.min_replicas, scale.max_replicas, cpu),
        pdb(child, ns, own, match, budget.min_available, budget.max_unavailable),
    ]
