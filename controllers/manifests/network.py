"""NetworkPolicies per kind: each workload admits only its known peers and reaches only its dependencies.

The edges (all TCP unless said; DNS is UDP and TCP 53 to anywhere, since cluster DNS lives in a
namespace whose labels differ between distributions):

* **CveFeed** sync Jobs: in, nothing but scrapes of ``metrics`` from the monitoring namespaces;
  out, Kafka's bootstrap ports and HTTPS (GitHub releases, NVD, a file mirror).
* **CveStore** pods (consumers, migration and versioning Jobs): in, scrapes; out, Kafka and
  PostgreSQL ports.
* **CveIndex** sync pods: in, scrapes; out, PostgreSQL, HTTPS (Pinecone, Hugging Face, a TEI
  endpoint) and the embedding endpoint's port.
* **RagEndpoint** API: in, its ``http`` port from the ingress controllers' namespaces and the
  endpoint's own namespace (in-cluster clients of ``status.url``), scrapes from monitoring; out,
  PostgreSQL, the LLM pods, HTTPS (external LLM/embedding).  **LLM**: in, only from the API pods
  (plus scrapes of vLLM's ``/metrics``); out, HTTPS to download weights.

Kafka and PostgreSQL are often outside the cluster (MSK, RDS), so their edges are ports to any
address, not pod selectors.  The operator's own policy (to the API server) is in the Helm chart.
Policies select pods with the same labels :func:`~controllers.manifests.common.labels` gives
them; whether they are enforced depends on the CNI (NetworkPolicy is a no-op without one that
implements it).  The Istio counterpart of these edges is :mod:`controllers.manifests.network_istio`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from controllers.api.common import NetworkPolicies
from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.manifests.common import METRICS_PORT, Manifest, child_name, labels, metadata, selector
from controllers.manifests.llm import ENGINES, LLM
from controllers.manifests.rag import API, API_PORT

HTTPS = 443
POSTGRES_PORT = 5432
DNS: Manifest = {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def owner_selector(kind: str, instance: str) -> dict[str, str]:
    """Every pod of one resource (``cverag.io/<kind>: <name>``, which :func:`labels` always sets)."""
    return {f"cverag.io/{kind.lower()}": instance}


def kafka_ports(bootstrap: str) -> list[int]:
    """The ports of ``host:port,host:port`` (9092 where none is given)."""
    ports = {int(part.rsplit(":", 1)[1]) if ":" in part else 9092 for part in bootstrap.split(",") if part}
    return sorted(ports)


def postgres_ports(store: CveStore) -> list[int]:
    """The port of ``spec.postgres`` (a DSN's port is in a Secret the manifest never sees: 5432)."""
    return [store.spec.postgres.port or POSTGRES_PORT]


def _to_ports(ports: list[int]) -> Manifest:
    return {"ports": [{"port": p, "protocol": "TCP"} for p in sorted(set(ports))]}


def _scrapes(spec: NetworkPolicies, port: int | str) -> Manifest:
    return {
        "from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
            for ns in spec.monitoring_namespaces
        ],
        "ports": [{"port": port, "protocol": "TCP"}],
    }


def policy(
    kind: str,
    instance: str,
    namespace: str,
    suffix: str,
    pods: dict[str, str],
    ingress: list[Manifest],
    egress: list[Manifest],
) -> Manifest:
    """One NetworkPolicy restricting both directions of ``pods``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(
            child_name(instance, suffix), namespace, labels(kind, instance, "network-policy")
        ),
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [DNS, *egress],
        },
    }


def feed_policies(feed: CveFeed) -> list[Manifest]:
    spec, meta = feed.spec.network_policy, feed.metadata
    if not spec.enabled:
        return []
    out = [_to_ports([*kafka_ports(feed.spec.kafka.bootstrap_servers), HTTPS, 80])]
    pods = owner_selector("CveFeed", meta.name)
    return [
        policy("CveFeed", meta.name, meta.namespace, "feed-net", pods, [_scrapes(spec, METRICS_PORT)], out)
    ]


def store_policies(store: CveStore, feed: CveFeed) -> list[Manifest]:
    spec, meta = store.spec.network_policy, store.metadata
    if not spec.enabled:
        return []
    out = [_to_ports([*kafka_ports(feed.spec.kafka.bootstrap_servers), *postgres_ports(store)])]
    pods = owner_selector("CveStore", meta.name)
    return [
        policy("CveStore", meta.name, meta.namespace, "store-net", pods, [_scrapes(spec, METRICS_PORT)], out)
    ]


def index_policies(index: CveIndex, store: CveStore) -> list[Manifest]:
    spec, meta = index.spec.network_policy, index.metadata
    if not spec.enabled:
        return []
    ports = [*postgres_ports(store), HTTPS]
    if endpoint := index.spec.embedding.endpoint:
        split = urlsplit(endpoint)
        ports.append(split.port or (HTTPS if split.scheme == "https" else 80))
    pods = owner_selector("CveIndex", meta.name)
    ingress = [_scrapes(spec, METRICS_PORT)]
    return [policy("CveIndex", meta.name, meta.namespace, "index-net", pods, ingress, [_to_ports(ports)])]


def rag_policies(rag: RagEndpoint, store: CveStore) -> list[Manifest]:
    """The API's and (for a self-hosted engine) the LLM's policies."""
    spec, meta = rag.spec.network_policy, rag.metadata
    if not spec.enabled:
        return []
    api_pods, llm_pods = selector("RagEndpoint", meta.name, API), selector("RagEndpoint", meta.name, LLM)
    clients = [*spec.ingress_namespaces, meta.namespace]
    api_in = {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}} for n in clients],
        "ports": [{"port": API_PORT, "protocol": "TCP"}],
    }
    engine = ENGINES.get(rag.spec.llm.engine)
    if engine is None:  # external: no LLM pod of ours; the API reaches the model's URL instead
        split = urlsplit(rag.spec.llm.url or "")
        port = split.port or (HTTPS if split.scheme == "https" else 80)
        out = [_to_ports([*postgres_ports(store), HTTPS, port])]
        ingress = [api_in, _scrapes(spec, API_PORT)]
        return [policy("RagEndpoint", meta.name, meta.namespace, "api-net", api_pods, ingress, out)]
    llm_port = engine.port
    api_out = [
        _to_ports([*postgres_ports(store), HTTPS]),
        {
            "to": [{"podSelector": {"matchLabels": llm_pods}}],
            "ports": [{"port": llm_port, "protocol": "TCP"}],
        },
    ]
    llm_in = [
        {
            "from": [{"podSelector": {"matchLabels": api_pods}}],
            "ports": [{"port": llm_port, "protocol": "TCP"}],
        },
        _scrapes(spec, llm_port),
    ]
    return [
        policy(
            "RagEndpoint",
            meta.name,
            meta.namespace,
            "api-net",
            api_pods,
            [api_in, _scrapes(spec, API_PORT)],
            api_out,
        ),
        policy("RagEndpoint", meta.name, meta.namespace, "llm-net", llm_pods, llm_in, [_to_ports([HTTPS])]),
    ]
