"""The README's quickstart, end to end, with every operator-made pod running as a container.

The path is the user's: the image loaded into the node's containerd, ``kubectl apply -k
bundles/operator``, your own Kafka and PostgreSQL behind selector-less Services,
``kubectl apply -f examples/quickstart/`` with your addresses, ``status.url``, a question.  On
the way the store's consumers are killed (SIGKILL) while they hold records from Kafka in an
open write transaction, the operator pod is restarted, and at the end the custom resources are
deleted.  What must hold: every child runs from the image, non-root on a read-only root with its
probes passing; every resource is Ready at its current generation; the store equals an
uninterrupted load of the same releases; the answer cites a CVE the feed delivered; a restarted
operator makes no Job twice; deletion keeps what ``deletionPolicy: Retain`` keeps and leaves no
child behind.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from confluent_kafka.admin import AdminClient
from kubernetes import client

from controllers.machinery.config import OperatorSettings
from devstack import image
from devstack.cluster import ClusterInfo
from tests.e2e import install, quickstart
from tests.e2e.conftest import GUARD, PODS, Steps
from tests.e2e.containers import CrashGuard, Target, container_id, hardened
from tests.e2e.flow import children, not_ready, port_forward, resource, until
from tests.e2e.store import WriteBlock, embedded, schema_exists, snapshot, uninterrupted
from tests.support.kube import kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

COMPONENTS = ("cve-feed-sync", "cve-store-migrate", "cve-store-consumer", "cve-index-sync", "cve-rag-api")
JOBS = {"cve-feed-sync", "cve-store-migrate"}


@pytest.mark.timeout(3600)
def test_the_quickstart_runs_end_to_end_as_containers(
    request: pytest.FixtureRequest,
    api: client.ApiClient,
    target: Target,
    node_image: image.Image,
    app_namespace: str,
    addresses: quickstart.Addresses,
    operator: list[dict[str, Any]],
    releases: quickstart.Releases,
    kafka: Any,
    topics: list[str],
    database: str,
    step: Steps,
) -> None:
    ns, core, batch = app_namespace, client.CoreV1Api(api), client.BatchV1Api(api)
    cluster, nodes = target.cluster, target.nodes
    guard = request.node.stash[GUARD] = CrashGuard(cluster, core, [ns, install.NAMESPACE])
    docs = quickstart.documents(addresses)
    crs = quickstart.kinds(docs)
    names = {kind: doc["metadata"]["name"] for kind, doc in crs.items()}
    schema = crs["CveStore"]["spec"]["postgres"]["schema"]
    block = WriteBlock(database, schema)

    with step("quickstart: applied, migrated, consumers holding records"):
        _kubectl_apply(cluster, ns, docs)
        until(guard, lambda: _succeeded(batch, ns, "cve-store-migrate"), "the migration Job")
        block.take()
        writers = until(guard, block.writers, "a consumer waiting to write what it read from Kafka")
    with step("store: consumers killed mid-load, restarted"):
        consumers = [p for p in _component(core, ns, "cve-store-consumer") if _running(p)]
        assert consumers, "no consumer runs although one waits to write"
        for pod in consumers:
            guard.caused[pod.metadata.name] = 1
            killed = container_id(pod.status.container_statuses[0])
            nodes.ctr("tasks", "kill", "-s", "SIGKILL", killed, node=pod.spec.node_name)
        until(guard, lambda: _restarted(core, ns, consumers), "every killed consumer running again")
        for pod in consumers:
            (status,) = core.read_namespaced_pod(pod.metadata.name, ns).status.container_statuses
            assert status.last_state.terminated.exit_code == 137, status  # 128 + SIGKILL
        assert block.count() == 0, f"a killed transaction left rows behind (it was in {writers})"
        block.release()

    with step("every custom resource Ready"):
        until(guard, lambda: not not_ready(api, ns, names), "every resource Ready", timeout=900)
    expected = uninterrupted(database, releases.docs())
    until(guard, lambda: snapshot(database, schema) == expected, "the store to hold every release")
    current, versions = snapshot(database, schema)
    assert {row[0] for row in current} == releases.ids and len(versions) > len(current)

    for component in (*COMPONENTS, "cverag-operator"):
        where = install.NAMESPACE if component == "cverag-operator" else ns
        pods = _component(core, where, component)
        assert pods, f"no pod of {component} ran"
        for pod in pods:
            assert not hardened(nodes, pod, node_image.name), hardened(nodes, pod, node_image.name)
            assert pod.spec.node_name in target.node_names
            assert _served(pod, component in JOBS), f"{pod.metadata.name}: {pod.status}"
    (api_pod, *_) = _component(core, ns, "cve-rag-api")
    exec_ = ("-n", ns, "exec", api_pod.metadata.name, "--", "sh", "-c", "id -u; : > /x")
    inside = kubectl(cluster.kubeconfig, *exec_, check=False)
    assert inside.stdout.split() == ["10001"] and "Read-only file system" in inside.stderr, inside

    with step("ask the RAG API at status.url"):
        asked = releases.baseline[0][0]
        url = urlsplit(resource(api, ns, "RagEndpoint", names["RagEndpoint"])["status"]["url"])  # type: ignore[index]
        service, service_ns = url.hostname.split(".")[:2]  # type: ignore[union-attr]
        with port_forward(cluster, service_ns, f"service/{service}", url.port or 80) as port:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/v1/ask",
                json={"question": f"What is {asked}?"},
                headers={"Authorization": f"Bearer {addresses.api_key}"},
                timeout=120,
            )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert asked in [c["cve_id"] for c in body["citations"]] and asked in body["answer"], body
    assert body["model"] == "none", body  # the deterministic answer from the records: no LLM here

    with step("operator pod restarted, every resource reconciled again"):
        jobs = _jobs(batch, ns)
        old = until(guard, lambda: install.operator_pod(core), "the operator")
        core.delete_namespaced_pod(old.metadata.name, install.NAMESPACE)
        new = until(guard, lambda: _replaced(core, old.metadata.name), "a new operator pod")
        until(guard, lambda: _reconciled(core, new, names.values()), "the new operator at every resource")
        until(guard, lambda: not not_ready(api, ns, names), "every resource Ready")
    assert _jobs(batch, ns) == jobs, "the restarted operator made a Job again"
    PODS.extend(_ran(core, [ns, install.NAMESPACE]))

    with step("delete the custom resources: Retain kept, no child left"):
        _kubectl_delete(cluster, ns, list(crs.values()))
        until(guard, lambda: all(resource(api, ns, k, n) is None for k, n in names.items()), "deletion")
        until(guard, lambda: not children(cluster, ns), "every child gone", timeout=300)
        running = f'labels."io.kubernetes.pod.namespace"=={ns}'
        until(
            guard,
            lambda: len(nodes.ctr("containers", "ls", "-q", running).split()) == 0,
            "containers gone",
        )
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    assert set(topics) <= set(admin.list_topics(timeout=30).topics)  # CveFeed: Retain
    assert schema_exists(database, schema) and snapshot(database, schema) == expected  # CveStore: Retain
    table = crs["CveIndex"]["spec"]["backend"]["pgvector"]["table"]
    published = {row[0] for row in current if row[3] != "REJECTED"}  # the index leaves REJECTED out
    assert embedded(database, schema, table) == published  # CveIndex: Retain, every record embedded


def _kubectl_apply(cluster: ClusterInfo, ns: str, docs: list[dict[str, Any]]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
        yaml.safe_dump_all(docs, out)
        out.flush()
        kubectl(cluster.kubeconfig, "-n", ns, "apply", "-f", out.name)


def _kubectl_delete(cluster: ClusterInfo, ns: str, docs: list[dict[str, Any]]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
        yaml.safe_dump_all(docs, out)
        out.flush()
        kubectl(cluster.kubeconfig, "-n", ns, "delete", "--wait=false", "-f", out.name)


def _component(core: client.CoreV1Api, ns: str, name: str) -> list[Any]:
    return list(core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/name={name}").items)


def _succeeded(batch: client.BatchV1Api, ns: str, component: str) -> bool:
    jobs = batch.list_namespaced_job(ns, label_selector=f"app.kubernetes.io/name={component}").items
    return any((job.status.succeeded or 0) > 0 for job in jobs)


def _running(pod: Any) -> bool:
    statuses = pod.status.container_statuses or []
    return bool(statuses) and statuses[0].state.running is not None


def _restarted(core: client.CoreV1Api, ns: str, killed: list[Any]) -> bool:
    for pod in killed:
        (status,) = core.read_namespaced_pod(pod.metadata.name, ns).status.container_statuses
        if status.restart_count < 1 or status.state.running is None:
            return False
    return True


def _served(pod: Any, job: bool) -> bool:
    """A Job's pod completed; a Deployment's pod runs with every container started and ready."""
    if job:
        return bool(pod.status.phase == "Succeeded")
    statuses = pod.status.container_statuses or []
    return pod.status.phase == "Running" and all(s.ready and s.started for s in statuses)


def _jobs(batch: client.BatchV1Api, ns: str) -> set[tuple[str, str]]:
    """The operator's own Jobs (not those a CronJob starts on its schedule), by name and uid."""
    jobs = batch.list_namespaced_job(ns).items
    return {
        (j.metadata.name, j.metadata.uid)
        for j in jobs
        if not any(ref.kind == "CronJob" for ref in j.metadata.owner_references or [])
    }


def _replaced(core: client.CoreV1Api, old: str) -> Any | None:
    pod = install.operator_pod(core)
    return pod if pod is not None and pod.metadata.name != old else None


def _reconciled(core: client.CoreV1Api, pod: Any, names: Any) -> bool:
    """The operator has handled every resource at its start and again a full tick later (the
    timer that would make a missing Job), by the ``resource`` of its JSON log lines."""
    log = core.read_namespaced_pod_log(pod.metadata.name, install.NAMESPACE, container="operator")
    seen: dict[str, list[datetime]] = {}
    for line in log.splitlines():
        with contextlib.suppress(ValueError, TypeError, AttributeError, KeyError):
            record = json.loads(line)
            name = str(record["resource"])  # controllers.machinery.logging_json's line format
            seen.setdefault(name, []).append(datetime.fromisoformat(record["time"]))
    tick = OperatorSettings.model_fields["tick_seconds"].default
    return all(name in seen and (max(seen[name]) - min(seen[name])).total_seconds() >= tick for name in names)


def _ran(core: client.CoreV1Api, namespaces: list[str]) -> list[str]:
    lines = []
    for ns in namespaces:
        for pod in core.list_namespaced_pod(ns).items:
            restarts = sum(s.restart_count for s in pod.status.container_statuses or [])
            component = pod.metadata.labels.get("app.kubernetes.io/name", "?")
            probes = sorted(
                kind
                for c in pod.spec.containers
                for kind in ("startup", "readiness", "liveness")
                if getattr(c, f"{kind}_probe") is not None
            )
            lines.append(
                f"{pod.metadata.name} ({component}): {pod.status.phase}, restarts {restarts}, "
                f"probes {'/'.join(probes) or 'none'}"
            )
    return lines
