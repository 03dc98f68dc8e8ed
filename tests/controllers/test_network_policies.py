"""The NetworkPolicies (and Istio policies) the operator makes: admitted by the API server, aimed at
the pods the manifests make, opt-out per resource.

Built from ``examples/`` with the handlers' own spec -> manifest functions.  The API server
validates every NetworkPolicy in a server-side dry-run; whether traffic is really dropped needs a
CNI that enforces NetworkPolicy (Calico, Cilium), which the test cluster does not run, so what is
shown here is admission and that each policy selects exactly the pods it is written for (the
labels :mod:`controllers.manifests` puts on their templates).  The test API server has no Istio
CRDs, so the Istio objects are checked structurally (API group, STRICT mode, selectors, the
API's ServiceAccount as the LLM's only principal).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.clients import kube
from controllers.handlers import network as network_handlers
from controllers.manifests import network, network_istio
from controllers.manifests.rag import service_account_name
from controllers.manifests.rag_exposure import ingress
from tests.controllers.generated import _variants, example_bodies, pod_spec, workloads
from tests.support.kube import temporary_namespace

Manifest = dict[str, Any]


def resources() -> tuple[list[CveFeed], dict[str, CveStore], dict[str, CveIndex], list[RagEndpoint]]:
    bodies = example_bodies()
    extra_stores, extra_indexes = _variants(bodies)  # the variants generated.workloads() covers too
    feeds = [CveFeed.from_body(b) for b in bodies["CveFeed"]]
    stores = {s.metadata.name: s for s in map(CveStore.from_body, [*bodies["CveStore"], *extra_stores])}
    indexes = {i.metadata.name: i for i in map(CveIndex.from_body, [*bodies["CveIndex"], *extra_indexes])}
    return feeds, stores, indexes, [RagEndpoint.from_body(b) for b in bodies["RagEndpoint"]]


def all_policies() -> list[Manifest]:
    feeds, stores, indexes, rags = resources()
    out = [p for feed in feeds for p in network.feed_policies(feed)]
    out += [p for store in stores.values() for feed in feeds[:1] for p in network.store_policies(store, feed)]
    out += [p for i in indexes.values() for p in network.index_policies(i, stores[i.spec.store_ref.name])]
    for rag in rags:
        store = stores[indexes[rag.spec.index_ref.name].spec.store_ref.name]
        out += network.rag_policies(rag, store)
    return out


def pod_labels() -> list[tuple[str, dict[str, str]]]:
    """(owner, pod template labels) of every workload the operator generates."""
    out = []
    for owner, obj in workloads():
        spec = obj["spec"]
        template = spec.get("template") or spec["jobTemplate"]["spec"]["template"]
        assert pod_spec(obj)
        out.append((owner, template["metadata"]["labels"]))
    return out


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


POLICIES = all_policies()


def test_every_kind_gets_policies() -> None:
    owners = {
        p["metadata"]["labels"]["app.kubernetes.io/instance"] + "/" + p["metadata"]["name"] for p in POLICIES
    }
    assert len(owners) == len(POLICIES)
    suffixes = {p["metadata"]["name"].rsplit("-", 2)[-2] for p in POLICIES}
    assert {"feed", "store", "index", "api", "llm"} <= suffixes


def test_every_workload_pod_is_selected_by_a_policy() -> None:
    for owner, labels in pod_labels():
        chosen = [p for p in POLICIES if matches(p["spec"]["podSelector"]["matchLabels"], labels)]
        assert len(chosen) == 1, f"{owner}: {len(chosen)} policies select its pods"


def test_each_policy_selects_only_its_owner_s_pods() -> None:
    for policy in POLICIES:
        instance = policy["metadata"]["labels"]["app.kubernetes.io/instance"]
        selected = [
            o for o, labels in pod_labels() if matches(policy["spec"]["podSelector"]["matchLabels"], labels)
        ]
        assert selected, f"{policy['metadata']['name']} selects no pod"
        assert all(o.split("/", 1)[1].split()[0] == instance for o in selected), selected


def test_the_llm_admits_only_the_api_pods_and_scrapes() -> None:
    _feeds, _stores, _indexes, rags = resources()
    rag = next(r for r in rags if r.spec.llm.engine != "external")
    api_labels = next(
        labels
        for o, labels in pod_labels()
        if o == f"RagEndpoint/{rag.metadata.name}" and labels["app.kubernetes.io/name"] == "cve-rag-api"
    )
    llm = next(p for p in POLICIES if p["metadata"]["name"] == f"{rag.metadata.name}-llm-net")
    peers = [peer for rule in llm["spec"]["ingress"] for peer in rule["from"]]
    pod_peers = [p["podSelector"]["matchLabels"] for p in peers if "podSelector" in p]
    assert pod_peers and all(matches(sel, api_labels) for sel in pod_peers)
    namespaces = [
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in peers
        if "namespaceSelector" in p
    ]
    assert namespaces == ["monitoring"]


def test_the_api_admits_the_ingress_namespace_and_its_own() -> None:
    api = next(p for p in POLICIES if p["metadata"]["name"].endswith("-api-net"))
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in api["spec"]["ingress"][0]["from"]
    }
    assert sources == {"ingress-nginx", api["metadata"]["namespace"]}


def test_store_pods_reach_kafka_and_postgres_only() -> None:
    feeds, stores, _i, _r = resources()
    store = next(iter(stores.values()))
    [policy] = network.store_policies(store, feeds[0])
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {53, *network.kafka_ports(feeds[0].spec.kafka.bootstrap_servers), 5432}


def test_opting_out_makes_no_policy() -> None:
    feeds, _stores, _i, _r = resources()
    body = example_bodies()["CveStore"][0]
    off = CveStore.from_body({**body, "spec": {**body["spec"], "networkPolicy": {"enabled": False}}})
    assert network.store_policies(off, feeds[0]) == []
    assert network_istio.workload_mesh("CveStore", "x", "y", off.spec.network_policy) == []


def test_the_public_ingress_routes_only_the_api_paths() -> None:
    """/metrics and /docs stay inside the cluster: the Ingress routes /v1, /mcp and the page only."""
    checked = 0
    for body in example_bodies()["RagEndpoint"]:
        rag = RagEndpoint.from_body(body)
        made = ingress(rag)
        if made is None:
            continue
        paths = {(p["path"], p["pathType"]) for rule in made["spec"]["rules"] for p in rule["http"]["paths"]}
        assert paths == {("/v1", "Prefix"), ("/mcp", "Exact"), ("/", "Exact")}
        assert not any(routed(paths, url) for url in ("/metrics", "/docs", "/openapi.json", "/healthz"))
        assert all(routed(paths, url) for url in ("/", "/mcp", "/v1/ask", "/v1/cves/CVE-2024-3400"))
        checked += 1
    assert checked


def routed(paths: set[tuple[str, str]], url: str) -> bool:
    """Whether an Ingress with ``paths`` sends ``url`` to the backend (Prefix matches whole segments)."""
    return any(
        url == path if kind == "Exact" else url == path or url.startswith(path.rstrip("/") + "/")
        for path, kind in paths
    )


def test_istio_objects_have_the_same_edges() -> None:
    _f, _s, _i, rags = resources()
    rag = next(r for r in rags if r.spec.llm.engine != "external")
    spec = rag.spec.network_policy.model_copy(update={"istio": True})
    made = network_istio.rag_mesh(
        rag.metadata.name,
        "prod",
        spec,
        spec.ingress_namespaces,
        service_account_name(rag),
        rag.spec.llm.engine,
    )
    kinds = [m["kind"] for m in made]
    assert kinds == ["PeerAuthentication", "AuthorizationPolicy", "AuthorizationPolicy"]
    assert all(m["apiVersion"] == "security.istio.io/v1" for m in made)
    assert made[0]["spec"]["mtls"] == {"mode": "STRICT"}
    llm_rule = made[2]["spec"]["rules"][0]
    assert llm_rule["from"][0]["source"]["principals"] == [
        f"cluster.local/ns/prod/sa/{service_account_name(rag)}"
    ]
    for owner, labels in pod_labels():
        if owner == f"RagEndpoint/{rag.metadata.name}":
            assert matches(made[0]["spec"]["selector"]["matchLabels"], labels)
    assert network_istio.rag_mesh(rag.metadata.name, "prod", rag.spec.network_policy, [], "sa", "vllm") == []


def test_the_operator_s_client_addresses_every_policy_kind() -> None:
    """The operator applies these through :func:`controllers.clients.kube.apply`, which finds each
    object's path by kind: a kind it cannot address fails every reconcile of its owner."""
    _f, _s, _i, rags = resources()
    spec = rags[0].spec.network_policy.model_copy(update={"istio": True})
    mesh = network_istio.rag_mesh("api", "prod", spec, spec.ingress_namespaces, "sa", "vllm")
    for made in [*POLICIES, *mesh]:
        version, kind = made["apiVersion"], made["kind"]
        plural = next(p for v, k, p, _c in network_handlers.KINDS if (v, k) == (version, kind))
        group = "api" if "/" not in version else "apis"
        path = f"/{group}/{version}/namespaces/prod/{plural}/{made['metadata']['name']}"
        assert kube.object_path(version, kind, "prod", made["metadata"]["name"]) == path


def test_the_api_server_admits_every_policy(kube: client.ApiClient) -> None:
    api = client.NetworkingV1Api(kube)
    with temporary_namespace(kube, "netpol") as ns:
        for policy in POLICIES:
            body = {**policy, "metadata": {**policy["metadata"], "namespace": ns}}
            api.create_namespaced_network_policy(ns, body, dry_run="All")
        broken = {**POLICIES[0], "metadata": {**POLICIES[0]["metadata"], "namespace": ns}}
        broken["spec"] = {**broken["spec"], "egress": [{"ports": [{"port": 70000, "protocol": "TCP"}]}]}
        with pytest.raises(ApiException) as refused:
            api.create_namespaced_network_policy(ns, broken, dry_run="All")
        assert refused.value.status == 422
