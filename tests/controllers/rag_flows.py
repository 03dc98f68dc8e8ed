"""Steps the CveIndex and RagEndpoint tests share: a store written through the real write path,
the quickstart index and endpoint, the index's sync run for real, and the API served locally.

The store is migrated and filled directly (every 2100th real record, about 30) rather than
through a feed and Kafka: those paths have their own tests, and the index only needs the
store's tables.  The CveStore object still exists (the index reads its PostgreSQL settings
from it); it names a feed that does not exist, so the store controller leaves it alone.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controllers.api import GROUP, VERSION
from devstack import proc
from devstack.corpus import sample, write
from tests.controllers import flows, helpers, pods
from tests.controllers.helpers import ROOT
from tests.support.kube import eventually
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

INDEX, ENDPOINT = "cves-minilm", "cve-qa"
EVERY = 2100
OWN_PLURALS = ("ragendpoints", "cveindexes")


def prepare_store(kube: client.ApiClient, ns: str, dsn: str, schema: str, shared_data: Path | None) -> int:
    """Migrate the schema, write real records (unless ``shared_data`` is None), create the CveStore.

    Returns the number of records written."""
    target = StoreTarget(dsn, schema)
    migrate(target)
    written = write(target, sample(shared_data, EVERY)) if shared_data is not None else 0
    helpers.secret(kube, ns, "cverag-postgres", {"dsn": dsn})
    helpers.create(kube, ns, "cvestores", flows.store_body(schema))
    return written


def index_body(**spec: Any) -> dict[str, Any]:
    body = helpers.quickstart("30-cveindex.yaml")
    body["spec"].update(spec)
    return body


def endpoint_body(**spec: Any) -> dict[str, Any]:
    body = helpers.quickstart("40-ragendpoint.yaml")
    for key, value in spec.items():
        body["spec"][key] = {**body["spec"].get(key, {}), **value} if isinstance(value, dict) else value
    return body


def endpoint_secrets(kube: client.ApiClient, ns: str, api_key: str) -> None:
    helpers.secret(kube, ns, "huggingface-token", {"token": "hf_test-token-never-used"})
    helpers.secret(kube, ns, "cverag-api-keys", {"keys": api_key})


def delete_own(kube: client.ApiClient, ns: str) -> None:
    """Endpoints, then indexes (their finalizers need the store), waiting until each is gone."""
    api = helpers.custom(kube)
    for plural in OWN_PLURALS:
        for item in api.list_namespaced_custom_object(GROUP, VERSION, ns, plural)["items"]:
            with contextlib.suppress(ApiException):
                api.delete_namespaced_custom_object(GROUP, VERSION, ns, plural, item["metadata"]["name"])
        eventually(
            lambda p=plural: not api.list_namespaced_custom_object(GROUP, VERSION, ns, p)["items"],  # type: ignore[misc]
            f"every {plural} in {ns} deleted",
            attempts=240,
        )


def deployment(kube: client.ApiClient, ns: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = kube.sanitize_for_serialization(
            client.AppsV1Api(kube).read_namespaced_deployment(name, ns)
        )
        return found
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def sync_once(kube: client.ApiClient, ns: str, name: str = INDEX) -> dict[str, Any]:
    """The sync Deployment's container, run here for one pass (``--once`` in place of ``--interval``)."""
    found = eventually(lambda: deployment(kube, ns, f"{name}-sync"), "the sync Deployment")
    container = found["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:4] == ["python", "-m", "workloads.index", "sync"] and command[4] == "--interval"
    done = pods.run_container(kube, ns, {**container, "command": [*command[:4], "--once"]})
    assert done.returncode == 0, done.stderr[-3000:]
    return pods.summary(done.stdout)


def table_shape(dsn: str, schema: str, table: str) -> tuple[int, str] | None:
    """(dimension, HNSW index definition) of a pgvector table, or None when it does not exist."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT a.atttypmod, i.indexdef FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_indexes i ON i.schemaname = n.nspname AND i.tablename = c.relname"
            "  AND i.indexdef LIKE '%%hnsw%%'"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attname = 'embedding'",
            [schema, table],
        ).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def zones_of(kube: client.ApiClient, ns: str, selector: str, count: int) -> dict[str, Counter[str]] | None:
    """{zone: Counter}, {gpu: Counter} of ``count`` running pods, or None until they all run."""
    core = client.CoreV1Api(kube)
    found = [p for p in core.list_namespaced_pod(ns, label_selector=selector).items if p.spec.node_name]
    if len(found) != count or not all(p.status.phase == "Running" for p in found):
        return None
    nodes = {n.metadata.name: n.metadata.labels for n in core.list_node().items}
    return {
        "zone": Counter(nodes[p.spec.node_name]["topology.kubernetes.io/zone"] for p in found),
        "gpu": Counter(nodes[p.spec.node_name].get("nvidia.com/gpu.present", "no") for p in found),
    }


@contextlib.contextmanager
def served_locally(kube: client.ApiClient, ns: str, container: Mapping[str, Any], log: Path) -> Iterator[str]:
    """The API container's command run here with its resolved env (only the port changed, since
    8000 may be taken on this machine); yields its base URL once ``/healthz`` answers."""
    port = proc.free_port()
    env = {
        **pods.resolved_env(kube, ns, container),
        "CVERAG_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*container["command"], *(container.get("args") or [])], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: server.poll() is not None or _answers(f"{base}/healthz"), "the API listening", 240)
        assert server.poll() is None, log.read_text()[-3000:]
        yield base
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        if server.poll() is None:
            server.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
