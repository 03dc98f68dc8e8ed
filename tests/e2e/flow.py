"""Waiting, reading and reaching things in the quickstart namespace, with the crash guard on.

Every wait checks :class:`~tests.e2e.containers.CrashGuard` on each round, so a crashed
container ends it with its logs rather than a timeout.  Timeouts are generous bounds for a
loaded 2-core machine, never what the test asserts.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from kubernetes import client

from controllers.api import GROUP, VERSION
from devstack.cluster import ClusterInfo
from tests.e2e.containers import CrashGuard
from tests.support.kube import kubectl

T = TypeVar("T")
PLURALS = {
    "CveFeed": "cvefeeds",
    "CveStore": "cvestores",
    "CveIndex": "cveindexes",
    "RagEndpoint": "ragendpoints",
}
# Every kind the operator may make in a namespace.
CHILD_KINDS = "deployments,jobs,cronjobs,pods,services,serviceaccounts,configmaps,pvc,hpa,pdb,ingresses"


def until(guard: CrashGuard, probe: Callable[[], T | None], what: str, timeout: float = 600) -> T:
    deadline = time.monotonic() + timeout
    while True:
        guard.check()
        if value := probe():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def resource(api: client.ApiClient, ns: str, kind: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, ns, PLURALS[kind], name
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return found


def ready(obj: dict[str, Any] | None) -> bool:
    """Ready=True, and both status and the condition observed the current generation."""
    if obj is None:
        return False
    status, generation = obj.get("status") or {}, obj["metadata"]["generation"]
    cond = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), None)
    return (
        cond is not None
        and cond["status"] == "True"
        and status.get("observedGeneration") == generation
        and cond.get("observedGeneration", generation) == generation
    )


def not_ready(api: client.ApiClient, ns: str, objects: dict[str, str]) -> list[str]:
    """``kind/name: reason: message`` of each object not yet :func:`ready` (empty when all are)."""
    waiting = []
    for kind, name in objects.items():
        obj = resource(api, ns, kind, name)
        if not ready(obj):
            conds = ((obj or {}).get("status") or {}).get("conditions") or []
            cond: dict[str, Any] = next((c for c in conds if c["type"] == "Ready"), {})
            waiting.append(f"{kind}/{name}: {cond.get('reason')}: {cond.get('message')}")
    return waiting


def children(cluster: ClusterInfo, ns: str) -> list[str]:
    """``kind/name`` of every object the operator made in ``ns`` that still exists."""
    selector = "app.kubernetes.io/managed-by=cverag-operator"
    listed = kubectl(cluster.kubeconfig, "-n", ns, "get", CHILD_KINDS, "-l", selector, "-o", "name")
    return listed.stdout.split()


@contextlib.contextmanager
def port_forward(cluster: ClusterInfo, ns: str, target: str, port: int) -> Iterator[int]:
    """``kubectl port-forward <target> :<port>`` (a free local port); yields the local port."""
    cmd = [str(cluster.kubectl), "--kubeconfig", str(cluster.kubeconfig), "-n", ns, "port-forward"]
    cmd += [target, f":{port}"]
    forward = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert forward.stdout is not None and forward.stderr is not None
        line = forward.stdout.readline()  # "Forwarding from 127.0.0.1:<port> -> <target port>"
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not match:
            raise AssertionError(f"port-forward {target}: {line!r} {forward.stderr.read()}")
        yield int(match.group(1))
    finally:
        forward.terminate()
        forward.wait(timeout=30)
