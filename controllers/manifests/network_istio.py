"""The Istio option of ``spec.networkPolicy`` (``istio: true``): mutual TLS and the same edges as identities.

Per resource: a PeerAuthentication in mode STRICT for its pods (the ``metrics`` port PERMISSIVE,
so a Prometheus outside the mesh still scrapes it), and AuthorizationPolicies where a workload
has callers: the RAG API accepts requests from the ingress controllers' namespaces and its own,
the LLM only from the RAG endpoint's ServiceAccount (the API's mTLS identity); the API's
``/metrics`` from the monitoring namespaces.  The data-plane
workloads that only call out (feed, store, index) get no ALLOW policy beyond the scrape port:
with STRICT mTLS and a policy allowing only ``metrics``, nothing else reaches them.

These are returned as plain dicts (unstructured objects) and applied only when Istio's
``security.istio.io/v1`` API is served; the operator never needs Istio's client libraries.
"""

from __future__ import annotations

from controllers.api.common import NetworkPolicies
from controllers.manifests.common import METRICS_PORT, Manifest, child_name, labels, metadata, selector
from controllers.manifests.llm import ENGINES, LLM
from controllers.manifests.network import owner_selector
from controllers.manifests.rag import API, API_PORT

SECURITY = "security.istio.io/v1"


def peer_authentication(
    kind: str, instance: str, namespace: str, pods: dict[str, str], metrics_port: int | None
) -> Manifest:
    spec: Manifest = {"selector": {"matchLabels": pods}, "mtls": {"mode": "STRICT"}}
    if metrics_port is not None:
        spec["portLevelMtls"] = {str(metrics_port): {"mode": "PERMISSIVE"}}
    return {
        "apiVersion": SECURITY,
        "kind": "PeerAuthentication",
        "metadata": metadata(child_name(instance, "mtls"), namespace, labels(kind, instance, "mesh-policy")),
        "spec": spec,
    }


def authorization(
    kind: str, instance: str, namespace: str, suffix: str, pods: dict[str, str], rules: list[Manifest]
) -> Manifest:
    return {
        "apiVersion": SECURITY,
        "kind": "AuthorizationPolicy",
        "metadata": metadata(child_name(instance, suffix), namespace, labels(kind, instance, "mesh-policy")),
        "spec": {"selector": {"matchLabels": pods}, "action": "ALLOW", "rules": rules},
    }


def _port_rule(port: int) -> Manifest:
    return {"to": [{"operation": {"ports": [str(port)]}}]}


def workload_mesh(kind: str, instance: str, namespace: str, spec: NetworkPolicies) -> list[Manifest]:
    """A feed's, store's or index's pods: STRICT mTLS, only the metrics port open."""
    if not (spec.enabled and spec.istio):
        return []
    pods = owner_selector(kind, instance)
    return [
        peer_authentication(kind, instance, namespace, pods, METRICS_PORT),
        authorization(kind, instance, namespace, "mesh-allow", pods, [_port_rule(METRICS_PORT)]),
    ]


def rag_mesh(
    instance: str,
    namespace: str,
    spec: NetworkPolicies,
    ingress_namespaces: list[str],
    service_account: str,
    engine: str,
) -> list[Manifest]:
    """The endpoint's pods: STRICT mTLS; API from the ingress namespaces and its own; LLM from the API."""
    if not (spec.enabled and spec.istio):
        return []
    kind = "RagEndpoint"
    api_pods, llm_pods = selector(kind, instance, API), selector(kind, instance, LLM)
    llm_port = ENGINES[engine].port if engine in ENGINES else API_PORT
    api_from = {
        "from": [{"source": {"namespaces": [*ingress_namespaces, namespace]}}],
        **_port_rule(API_PORT),
    }
    llm_from = {
        "from": [{"source": {"principals": [f"cluster.local/ns/{namespace}/sa/{service_account}"]}}],
        **_port_rule(llm_port),
    }
    scrapes = {
        "from": [{"source": {"namespaces": list(spec.monitoring_namespaces)}}],
        "to": [{"operation": {"ports": [str(API_PORT)], "paths": ["/metrics"]}}],
    }
    return [
        peer_authentication(kind, instance, namespace, owner_selector(kind, instance), None),
        authorization(kind, instance, namespace, "api-allow", api_pods, [api_from, scrapes]),
        authorization(kind, instance, namespace, "llm-allow", llm_pods, [llm_from]),
    ]
