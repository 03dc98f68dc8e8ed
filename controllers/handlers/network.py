"""Apply a resource's NetworkPolicies (and Istio policies, where Istio is served); remove the rest.

Called by each kind's reconcile with what :mod:`controllers.manifests.network` and
:mod:`controllers.manifests.network_istio` made for it.  Policies the spec no longer asks for
(``networkPolicy.enabled: false``, or ``istio: false``) are found by their labels and deleted,
so opting out takes effect on the next reconcile.  RBAC: the operator's ClusterRole needs
networkpolicies (networking.k8s.io) and, for the Istio option, peerauthentications and
authorizationpolicies (security.istio.io).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.api.feed import CveFeed
from controllers.api.index import CveIndex
from controllers.api.rag import RagEndpoint
from controllers.api.store import CveStore
from controllers.clients import kube
from controllers.manifests import network as net
from controllers.manifests import network_istio as mesh
from controllers.manifests.common import Manifest, labels
from controllers.manifests.rag import service_account_name

ISTIO = "security.istio.io/v1"
KINDS = (
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", "network-policy"),
    (ISTIO, "PeerAuthentication", "peerauthentications", "mesh-policy"),
    (ISTIO, "AuthorizationPolicy", "authorizationpolicies", "mesh-policy"),
)


def converge(
    kind: str, instance: str, namespace: str, wanted: list[Manifest], owner: Mapping[str, Any]
) -> None:
    """Make exactly ``wanted`` exist among the resource's policies."""
    for api_version, object_kind, plural, component in KINDS:
        if api_version == ISTIO and not kube.served(ISTIO, plural):
            continue  # no Istio here: nothing to apply, nothing left to remove
        mine = [m for m in wanted if m["kind"] == object_kind]
        for manifest in mine:
            kube.apply(manifest, owner)
        keep = {m["metadata"]["name"] for m in mine}
        for found in kube.list_objects(
            api_version, object_kind, namespace, labels(kind, instance, component)
        ):
            if found["metadata"]["name"] not in keep:
                kube.delete(api_version, object_kind, namespace, found["metadata"]["name"])


def for_feed(feed: CveFeed, owner: Mapping[str, Any]) -> None:
    meta, spec = feed.metadata, feed.spec.network_policy
    wanted = [*net.feed_policies(feed), *mesh.workload_mesh("CveFeed", meta.name, meta.namespace, spec)]
    converge("CveFeed", meta.name, meta.namespace, wanted, owner)


def for_store(store: CveStore, feed: CveFeed, owner: Mapping[str, Any]) -> None:
    meta, spec = store.metadata, store.spec.network_policy
    wanted = [
        *net.store_policies(store, feed),
        *mesh.workload_mesh("CveStore", meta.name, meta.namespace, spec),
    ]
    converge("CveStore", meta.name, meta.namespace, wanted, owner)


def for_index(index: CveIndex, store: CveStore, owner: Mapping[str, Any]) -> None:
    meta, spec = index.metadata, index.spec.network_policy
    wanted = [
        *net.index_policies(index, store),
        *mesh.workload_mesh("CveIndex", meta.name, meta.namespace, spec),
    ]
    converge("CveIndex", meta.name, meta.namespace, wanted, owner)


def for_rag(rag: RagEndpoint, store: CveStore, owner: Mapping[str, Any]) -> None:
    meta, spec = rag.metadata, rag.spec.network_policy
    istio = mesh.rag_mesh(
        meta.name,
        meta.namespace,
        spec,
        spec.ingress_namespaces,
        service_account_name(rag),
        rag.spec.llm.engine,
    )
    converge("RagEndpoint", meta.name, meta.namespace, [*net.rag_policies(rag, store), *istio], owner)
