"""``helm install`` of the chart onto the test cluster, the operator a real pod of the image on
the real kubelet node, becoming healthy: Running, kopf started, liveness answered, no restart.

It installs a release of its own (its own names, namespaced mode watching one namespace, no CRDs
and no user roles, which the shared cluster already has), in a namespace annotated so its pod
runs on the real node, under the end-to-end lock (the e2e shares the node's image tag); then
``helm uninstall`` removes everything but what ``helm.sh/resource-policy: keep`` keeps.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devstack import helm, image, proc
from devstack.k8s_build import locked
from devstack.operator_process import STARTED
from tests.bundles.charts import CHART, need_helm, values_file
from tests.support.machine import lacks

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def archive_digest(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        assert member is not None
        (manifest,) = json.load(member)["manifests"]
        return str(manifest["digest"])


def node_image(real_node: Any) -> image.Image:
    if image.cached() is None and (reason := image.unavailable()) is not None:
        lacks(f"the cverag image cannot be built here: {reason}")
    built = image.build()
    if archive_digest(built.archive) not in real_node.ctr("images", "ls", f"name=={built.name}"):
        real_node.import_image(built.archive)
    return built


def healthy_pod(core: client.CoreV1Api, ns: str, node: str) -> Any | None:
    pods = core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/name=cverag-operator").items
    running = [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]
    if len(running) != 1 or running[0].spec.node_name != node:
        return None
    pod = running[0]
    statuses = pod.status.container_statuses or []
    if not statuses or not statuses[0].ready:
        return None
    log = core.read_namespaced_pod_log(pod.metadata.name, ns, container="operator")
    return pod if STARTED in log else None


def test_helm_install_runs_the_operator_on_the_real_node(
    cluster: Any, real_node: Any, kube: client.ApiClient, cverag_crds: Any, tmp_path: Path
) -> None:
    need_helm()
    core = client.CoreV1Api(kube)
    suffix = uuid.uuid4().hex[:6]
    release_ns, watched, release = f"t-helm-{suffix}", f"t-helm-watched-{suffix}", f"cverag-{suffix}"
    with contextlib.ExitStack() as held:
        held.enter_context(locked(proc.STATE_ROOT / "e2e.lock"))
        built = node_image(real_node)
        core.create_namespace(
            {"metadata": {"name": release_ns, "annotations": real_node.namespace_annotations}}
        )
        core.create_namespace({"metadata": {"name": watched}})
        held.callback(core.delete_namespace, watched)
        held.callback(core.delete_namespace, release_ns)
        values = {
            "fullnameOverride": f"cverag-helm-{suffix}",
            "crds": {"create": False},
            "rbac": {"aggregateToDefaultRoles": False},
            "watchNamespaces": [watched],
            "image": {
                "repository": built.name.rsplit(":", 1)[0],
                "tag": built.name.rsplit(":", 1)[1],
                "pullPolicy": "Never",
            },
            "podDisruptionBudget": {"enabled": True},
        }
        install = ["install", release, str(CHART), "-n", release_ns, "-f", str(values_file(values, tmp_path))]
        helm.run([*install, "--wait", "--timeout", "5m"], kubeconfig=cluster.kubeconfig)
        held.callback(
            helm.run, ["uninstall", release, "-n", release_ns, "--wait"], kubeconfig=cluster.kubeconfig
        )
        status = json.loads(
            helm.run(
                ["status", release, "-n", release_ns, "-o", "json"], kubeconfig=cluster.kubeconfig
            ).stdout
        )
        assert status["info"]["status"] == "deployed"
        deadline = time.monotonic() + 300
        while (pod := healthy_pod(core, release_ns, real_node.name)) is None:
            assert time.monotonic() < deadline, "the operator pod never became healthy on the real node"
            time.sleep(2)
        (container,) = pod.spec.containers
        assert container.image == built.name
        time.sleep(40)  # past the first liveness probes (initialDelaySeconds 10, period 30)
        again = healthy_pod(core, release_ns, real_node.name)
        assert again is not None and again.status.container_statuses[0].restart_count == 0
