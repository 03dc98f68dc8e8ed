"""Small helpers for the operator tests: custom objects, conditions, waits, spec comparison and
``kubectl get`` columns."""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controllers.api import GROUP, VERSION
from devstack import proc
from tests.support.kube import eventually

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
# Deleted in this order: what consumes a kind goes before it.
PLURALS = ("ragendpoints", "cveindexes", "cvestores", "cvefeeds")
CRD_LOCK = proc.CACHE_ROOT / "state" / "optional-crds.lock"


def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


def quickstart(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((QUICKSTART / name).read_text())
    return doc


def create(kube: client.ApiClient, ns: str, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = custom(kube).create_namespaced_custom_object(
        GROUP, VERSION, ns, plural, dict(body)
    )
    return created


def get(kube: client.ApiClient, ns: str, plural: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = custom(kube).get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
        return found
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def patch_spec(kube: client.ApiClient, ns: str, plural: str, name: str, spec: Mapping[str, Any]) -> Any:
    return custom(kube).patch_namespaced_custom_object(GROUP, VERSION, ns, plural, name, {"spec": dict(spec)})


def condition(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return None


def wait_for(
    kube: client.ApiClient, ns: str, plural: str, name: str, test: Callable[[dict[str, Any]], Any], what: str
) -> dict[str, Any]:
    """The object once ``test(object)`` holds (bounded poll); if it never does, the failure
    shows the object's last status, whose conditions usually say why."""
    seen: list[dict[str, Any] | None] = [None]

    def probe() -> dict[str, Any] | None:
        obj = seen[0] = get(kube, ns, plural, name)
        return obj if obj is not None and test(obj) else None

    try:
        return eventually(probe, f"{plural}/{name}: {what}", attempts=360)
    except AssertionError as exc:
        last = (seen[0] or {}).get("status")
        raise AssertionError(f"{exc}; its last status: {json.dumps(last, indent=1)}") from None


def wait_condition(
    kube: client.ApiClient,
    ns: str,
    plural: str,
    name: str,
    type_: str,
    status: str,
    reason: str | None = None,
) -> dict[str, Any]:
    def holds(obj: dict[str, Any]) -> bool:
        cond = condition(obj, type_)
        return cond is not None and cond["status"] == status and (reason is None or cond["reason"] == reason)

    return wait_for(kube, ns, plural, name, holds, f"{type_}={status}" + (f" ({reason})" if reason else ""))


def delete_all_cverag(kube: client.ApiClient, ns: str) -> None:
    """Delete the namespace's cverag resources and wait until their finalizers have run."""
    for plural in PLURALS:
        for item in custom(kube).list_namespaced_custom_object(GROUP, VERSION, ns, plural)["items"]:
            try:
                custom(kube).delete_namespaced_custom_object(
                    GROUP, VERSION, ns, plural, item["metadata"]["name"]
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
    for plural in PLURALS:
        eventually(
            lambda p=plural: not custom(kube).list_namespaced_custom_object(GROUP, VERSION, ns, p)["items"],  # type: ignore[misc]
            f"every {plural} in {ns} deleted",
            attempts=240,
        )


def secret(kube: client.ApiClient, ns: str, name: str, data: Mapping[str, str]) -> None:
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=dict(data))
    client.CoreV1Api(kube).create_namespaced_secret(ns, body)


def contains(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Differences where ``actual`` lacks or contradicts ``expected`` (extra defaults are fine)."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected a mapping, got {actual!r}"]
        return [d for k, v in expected.items() for d in contains(v, actual.get(k), f"{path}.{k}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in contains(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def jobs(kube: client.ApiClient, ns: str, selector: str) -> list[Any]:
    return list(client.BatchV1Api(kube).list_namespaced_job(ns, label_selector=selector).items)


def columns(kubeconfig: Path, ns: str, resources: str, wide: bool = False) -> list[dict[str, str]]:
    """``kubectl get`` as rows of {COLUMN: value}, cut at the header's column offsets (one table
    per kind; empty cells stay empty strings)."""
    from tests.support.kube import kubectl

    args = ["get", resources, "-n", ns, *(["-o", "wide"] if wide else [])]
    rows: list[dict[str, str]] = []
    starts: list[tuple[str, int]] = []
    for line in kubectl(kubeconfig, *args).stdout.splitlines():
        if not line.strip():
            continue
        if line.startswith("NAME "):
            starts = [(m.group(), m.start()) for m in re.finditer(r"\S+", line)]
            continue
        bounds = [*[s for _, s in starts[1:]], len(line) + 1]
        rows.append({name: line[at:end].strip() for (name, at), end in zip(starts, bounds, strict=True)})
    return rows


@contextmanager
def optional_crds(exclusive: bool) -> Iterator[None]:
    """A lock across test sessions on the cluster-wide optional CRDs (KEDA, Strimzi).

    Installing KEDA's CRD turns every store's HPA into a ScaledObject, cluster-wide; the test
    that installs it holds the lock exclusively, tests that expect a plain HPA hold it shared.
    """
    CRD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with CRD_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
