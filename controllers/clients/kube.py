"""The operator's one way to the Kubernetes API: one client, REST calls on resource paths.

kopf keeps its own connection for watching; everything a handler reads or writes goes
through one :class:`~controllers.machinery.rest.Rest` client per process, logged in the way
kopf is (in-cluster service account, else the kubeconfig).  Objects are plain JSON
(``Object``) sent to their REST path, which needs no discovery round-trips and no generated
model classes.

Children are server-side applied (one field manager, ``force``), so applying the same
manifest twice is a no-op: an unchanged spec never rolls a Deployment, and fields other
managers own (the HPA's ``replicas``) are left alone.  Every child gets a controller owner
reference to its cverag resource, so the garbage collector removes it with its owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from controllers.api import GROUP, VERSION
from controllers.api.common import Kind
from controllers.machinery import rest
from controllers.machinery.rest import ApiError

Object = dict[str, Any]  # a Kubernetes object as JSON, as manifests build it and the API serves it
K = TypeVar("K", bound=Kind)
FIELD_MANAGER = "cverag-operator"
APPLY_PATCH = "application/apply-patch+yaml"
# The plural of every kind the operator touches: REST paths need it, manifests carry only the kind.
PLURALS = {
    "Job": "jobs",
    "CronJob": "cronjobs",
    "Deployment": "deployments",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "ServiceAccount": "serviceaccounts",
    "ScaledObject": "scaledobjects",
    "KafkaTopic": "kafkatopics",
    "CveFeed": "cvefeeds",
    "CveStore": "cvestores",
    "CveIndex": "cveindexes",
    "RagEndpoint": "ragendpoints",
    "Service": "services",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Ingress": "ingresses",
    "Certificate": "certificates",
    "Pod": "pods",
    "Secret": "secrets",
    "NetworkPolicy": "networkpolicies",
    "PeerAuthentication": "peerauthentications",
    "AuthorizationPolicy": "authorizationpolicies",
}


def collection_path(api_version: str, kind: str, namespace: str) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    return f"{base}/namespaces/{namespace}/{PLURALS[kind]}"


def object_path(api_version: str, kind: str, namespace: str, name: str) -> str:
    return f"{collection_path(api_version, kind, namespace)}/{name}"


def request(
    method: str,
    path: str,
    body: Any = None,
    query: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> Any:
    """One REST call with the operator's credentials; the parsed JSON answer.

    Non-2xx answers raise :class:`ApiError` (``.status`` tells 404 from 409 from 403).
    """
    return rest.default().request(method, path, body, query, content_type)


def owned(manifest: Object, owner: Mapping[str, Any]) -> Object:
    """A copy of ``manifest`` whose metadata names ``owner`` as its controller."""
    meta = owner["metadata"]
    reference = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {**manifest, "metadata": {**manifest["metadata"], "ownerReferences": [reference]}}


def apply(manifest: Object, owner: Mapping[str, Any]) -> Object:
    """Server-side apply ``manifest`` as owned by ``owner``; returns the object as stored."""
    meta = manifest["metadata"]
    path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    query = {"fieldManager": FIELD_MANAGER, "force": "true"}
    result: Object = request("PATCH", path, owned(manifest, owner), query, APPLY_PATCH)
    return result


def create(manifest: Object, owner: Mapping[str, Any]) -> tuple[Object, bool]:
    """Create once (Jobs are immutable); an existing object of that name is returned as is.

    Returns the stored object and whether this call created it.
    """
    meta = manifest["metadata"]
    path = collection_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
    try:
        created: Object = request("POST", path, owned(manifest, owner), {"fieldManager": FIELD_MANAGER})
        return created, True
    except ApiError as exc:
        if exc.status != 409:
            raise
    existing = get(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    if existing is None:  # deleted between our create and get: the next reconcile creates it
        raise RuntimeError(f"{manifest['kind']} {meta['name']} vanished while being created")
    return existing, False


def get(api_version: str, kind: str, namespace: str, name: str) -> Object | None:
    try:
        found: Object = request("GET", object_path(api_version, kind, namespace, name))
        return found
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def referenced(kind: type[K], namespace: str, name: str) -> K | None:
    """The cverag resource a spec refers to (``feedRef``, ``storeRef``, ``indexRef``), parsed;
    ``None`` when it does not exist."""
    found = get(f"{GROUP}/{VERSION}", kind.kind, namespace, name)
    return None if found is None else kind.from_body(found)


def list_objects(api_version: str, kind: str, namespace: str, selector: Mapping[str, str]) -> list[Object]:
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    found = request(
        "GET", collection_path(api_version, kind, namespace), query={"labelSelector": label_selector}
    )
    items: list[Object] = found.get("items") or []
    return items


def delete(api_version: str, kind: str, namespace: str, name: str, propagation: str = "Background") -> bool:
    """Delete if present; True when something was deleted."""
    path = object_path(api_version, kind, namespace, name)
    try:
        request("DELETE", path, query={"propagationPolicy": propagation})
        return True
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise


def served(group_version: str, plural: str) -> bool:
    """Whether the API server serves ``plural`` in ``group_version`` (e.g. KEDA's CRDs exist).

    Discovery documents are readable by every authenticated user, so this needs no RBAC.
    """
    try:
        found = request("GET", f"/apis/{group_version}")
    except ApiError as exc:
        if exc.status in (404, 503):
            return False
        raise
    return any(r.get("name") == plural for r in found.get("resources") or [])
