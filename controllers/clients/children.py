"""Child objects: server-side apply with owner references, plain reads, deletes, discovery.

Server-side apply (one field manager, ``force``) makes applying the same manifest twice a
no-op, so an unchanged spec never rolls a Deployment, and fields other managers own (the
HPA's ``replicas``) are left alone.  Every child gets a controller owner reference to its
cverag resource, so the garbage collector removes it with its owner.  Requests go through
the official client's ``call_api`` on the REST path, which needs no discovery round-trips.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from controllers.clients import kube
from controllers.manifests.common import Manifest

FIELD_MANAGER = "cverag-operator"
APPLY_PATCH = "application/apply-patch+yaml"
# The plural of every kind the operator manages: REST paths need it, manifests carry only the kind.
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

    Non-2xx answers raise :class:`ApiException` (``.status`` tells 404 from 409 from 403).
    """
    api = kube.api_client()
    serialized = api.param_serialize(
        method,
        path,
        query_params=list((query or {}).items()),
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*serialized, _request_timeout=30)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=response)
    return json.loads(response.data) if response.data else {}


def owner_reference(owner: Mapping[str, Any]) -> Manifest:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned(manifest: Manifest, owner: Mapping[str, Any]) -> Manifest:
    """A copy of ``manifest`` whose metadata names ``owner`` as its controller."""
    meta = {**manifest["metadata"], "ownerReferences": [owner_reference(owner)]}
    return {**manifest, "metadata": meta}


def apply(manifest: Manifest, owner: Mapping[str, Any]) -> Manifest:
    """Server-side apply ``manifest`` as owned by ``owner``; returns the object as stored."""
    meta = manifest["metadata"]
    path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    query = {"fieldManager": FIELD_MANAGER, "force": "true"}
    result: Manifest = request("PATCH", path, owned(manifest, owner), query, APPLY_PATCH)
    return result


def create(manifest: Manifest, owner: Mapping[str, Any]) -> tuple[Manifest, bool]:
    """Create once (Jobs are immutable); an existing object of that name is returned as is.

    Returns the stored object and whether this call created it.
    """
    meta = manifest["metadata"]
    path = collection_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
    try:
        created: Manifest = request("POST", path, owned(manifest, owner), {"fieldManager": FIELD_MANAGER})
        return created, True
    except ApiException as exc:
        if exc.status != 409:
            raise
    existing = get(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    if existing is None:  # deleted between our create and get: the next reconcile creates it
        raise RuntimeError(f"{manifest['kind']} {meta['name']} vanished while being created")
    return existing, False


def get(api_version: str, kind: str, namespace: str, name: str) -> Manifest | None:
    try:
        found: Manifest = request("GET", object_path(api_version, kind, namespace, name))
        return found
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_objects(api_version: str, kind: str, namespace: str, selector: Mapping[str, str]) -> list[Manifest]:
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    found = request(
        "GET", collection_path(api_version, kind, namespace), query={"labelSelector": label_selector}
    )
    items: list[Manifest] = found.get("items") or []
    return items


def delete(api_version: str, kind: str, namespace: str, name: str, propagation: str = "Background") -> bool:
    """Delete if present; True when something was deleted."""
    path = object_path(api_version, kind, namespace, name)
    try:
        request("DELETE", path, query={"propagationPolicy": propagation})
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def served(group_version: str, plural: str) -> bool:
    """Whether the API server serves ``plural`` in ``group_version`` (e.g. KEDA's CRDs exist).

    Discovery documents are readable by every authenticated user, so this needs no RBAC.
    """
    try:
        found = request("GET", f"/apis/{group_version}")
    except ApiException as exc:
        if exc.status in (404, 503):
            return False
        raise
    return any(r.get("name") == plural for r in found.get("resources") or [])


def condition(obj: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    """The ``type_`` condition in an object's status, if present and True."""
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_ and cond.get("status") == "True":
            found: Mapping[str, Any] = cond
            return found
    return None
