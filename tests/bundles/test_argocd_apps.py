"""The Argo CD app-of-apps, without Argo CD (it cannot run here): each Application's source is
rendered the way Argo CD renders it (kustomize with the Application's commonAnnotations, Helm
with its values, a directory minus its excludes) and applied to the test API server with
server-side dry-run, in sync-wave order: CRDs, then the operator, then the CRs."""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from devstack import bundlegen
from tests.bundles.charts import dump, need_helm, values_file
from tests.support.kube import kubectl, temporary_namespace

APPS = bundlegen.ARGOCD / "apps"
DRY_RUN = (
    "apply",
    "--server-side",
    "--force-conflicts",
    "--dry-run=server",
    "--field-manager=argocd-controller",
)


def applications() -> list[dict[str, Any]]:
    apps = [yaml.safe_load(p.read_text()) for p in sorted(APPS.glob("*.yaml"))]
    return sorted(apps, key=lambda a: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]))


def sources(cluster: Any, app: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """What Argo CD would apply for ``app`` (destination namespace ``namespace``)."""
    source = app["spec"]["source"]
    path = bundlegen.REPO / source["path"]
    if "helm" in source:
        with tempfile.TemporaryDirectory() as tmp:
            values = values_file(source["helm"].get("valuesObject", {}), Path(tmp))
            return bundlegen.render("-f", str(values), namespace=namespace)
    if (path / "Kustomization").is_file() or (path / "kustomization.yaml").is_file():
        docs = [
            d for d in yaml.safe_load_all(kubectl(cluster.kubeconfig, "kustomize", str(path)).stdout) if d
        ]
        for doc in docs:
            doc["metadata"].setdefault("annotations", {}).update(
                source.get("kustomize", {}).get("commonAnnotations", {})
            )
        return docs
    exclude = source.get("directory", {}).get("exclude", "")
    files = [p for p in sorted(path.glob("*.yaml")) if not (exclude and fnmatch.fnmatch(p.name, exclude))]
    return [d for p in files for d in yaml.safe_load_all(p.read_text()) if d]


def test_waves_are_crds_then_operator_then_resources() -> None:
    apps = applications()
    assert [a["spec"]["source"]["path"] for a in apps] == [
        "crds",
        "bundles/helm/cverag",
        "examples/quickstart",
    ]
    for app in apps:
        assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"], app["metadata"]["name"]
    crds, operator, resources = apps
    assert crds["spec"]["syncPolicy"]["automated"]["prune"] is False
    assert (
        "Prune=false"
        in crds["spec"]["source"]["kustomize"]["commonAnnotations"]["argocd.argoproj.io/sync-options"]
    )
    assert operator["spec"]["source"]["helm"]["valuesObject"]["crds"]["create"] is False  # one owner per CRD
    assert "SkipDryRunOnMissingResource=true" in resources["spec"]["syncPolicy"]["syncOptions"]
    root = yaml.safe_load((bundlegen.ARGOCD / "root.yaml").read_text())
    assert root["spec"]["source"]["path"] == "bundles/argocd/apps"


@pytest.mark.cluster
def test_what_argo_would_apply_is_admitted_in_wave_order(
    cluster: Any, kube: client.ApiClient, cverag_crds: Any, tmp_path: Path
) -> None:
    need_helm()
    with temporary_namespace(kube, "argocd-waves") as ns:
        applied: list[dict[str, Any]] = []
        for app in applications():
            docs = sources(cluster, app, ns)
            assert not [d for d in docs if d["kind"] == "Secret"], f"{app['metadata']['name']} syncs a Secret"
            namespaced = [
                d
                for d in docs
                if d["kind"] != "CustomResourceDefinition" and not d["kind"].startswith("Cluster")
            ]
            for doc in namespaced:
                doc["metadata"]["namespace"] = ns
            result = kubectl(
                cluster.kubeconfig,
                *DRY_RUN,
                "-f",
                str(dump(docs, tmp_path / f"{app['metadata']['name']}.yaml")),
            )
            lines = result.stdout.splitlines()
            assert len(lines) == len(docs) and all("(server dry run)" in line for line in lines), (
                result.stdout
            )
            applied.extend(docs)
        crds = [d for d in applied if d["kind"] == "CustomResourceDefinition"]
        assert len(crds) == 4 and all(
            "Prune=false" in d["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] for d in crds
        )
        kinds = {d["kind"] for d in applied}
        assert {"Deployment", "CveFeed", "CveStore", "CveIndex", "RagEndpoint"} <= kinds
