"""Kubernetes plumbing for tests: CRD installation, namespaces, polling, kubectl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, attempts: int = 240, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` if it never does."""
    last: T | None = None
    for _ in range(attempts):
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"never happened: {what} (last value: {last!r})")


def exists(read: Callable[[], Any]) -> bool:
    """Whether ``read`` finds its object: a 404 is "no", any other API error is raised."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def install_crds(api: client.ApiClient, files: list[Path]) -> list[str]:
    """Create or replace each CRD and wait until the API server serves it."""
    ext = client.ApiextensionsV1Api(api)
    names = []
    for path in files:
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            current = ext.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            ext.create_custom_resource_definition(body)
        names.append(name)
    for name in names:
        eventually(lambda n=name: _established(ext, n), f"CRD {name} established")  # type: ignore[misc]
    return names


def _established(ext: client.ApiextensionsV1Api, name: str) -> bool:
    crd = ext.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


@contextmanager
def temporary_namespace(api: client.ApiClient, hint: str) -> Iterator[str]:
    core = client.CoreV1Api(api)
    slug = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise


def kubectl_path() -> str:
    """kubectl built with the control plane when available, else the one on PATH."""
    from devstack import cluster

    built = getattr(cluster, "kubectl_path", None)
    if callable(built):
        return str(built())
    found = shutil.which("kubectl")
    if not found:
        raise AssertionError("kubectl not found")
    return found


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = subprocess.run([kubectl_path(), *args], capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]
