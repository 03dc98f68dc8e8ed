"""The two documented install paths, rendered by kustomize and applied to the test API server.

``kubectl apply -k bundles/operator`` must build with kustomize's default load restrictions (the
bundle reaches the CRDs as the directory ``../../crds``, a kustomization of its own, not as files
outside its root), and ``kubectl apply -f crds/`` followed by the bundle must work too.  Both are
applied server-side with ``--dry-run=server``: the API server validates and admits every object
(the CRDs' schemas, RBAC, the Deployment) without the bundle's operator Deployment starting
beside the operator the other tests run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.api import KINDS
from controllers.api.version import IMAGE
from devstack.image import REPO
from tests.support.kube import kubectl

pytestmark = pytest.mark.cluster

BUNDLE = REPO / "bundles" / "operator"
CRDS = REPO / "crds"
APPLY = ("apply", "--server-side", "--force-conflicts", "--dry-run=server")


def _render(cluster: Any, path: Path) -> list[dict[str, Any]]:
    rendered = kubectl(cluster.kubeconfig, "kustomize", str(path)).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_the_bundle_renders_with_default_kustomize_settings(cluster: Any) -> None:
    docs = _render(cluster, BUNDLE)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    crds = sorted(name for kind, name in kinds if kind == "CustomResourceDefinition")
    assert crds == sorted(f"{k.plural}.cverag.io" for k in KINDS)
    assert ("Deployment", "cverag-operator") in kinds and ("Namespace", "cverag-system") in kinds
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["metadata"]["namespace"] == "cverag-system"
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [IMAGE]
    assert "namespace" not in next(d for d in docs if d["kind"] == "CustomResourceDefinition")["metadata"]


def test_the_crds_directory_is_a_kustomization_and_plain_files(cluster: Any) -> None:
    assert len(_render(cluster, CRDS)) == len(KINDS)
    result = kubectl(cluster.kubeconfig, *APPLY, "-f", str(CRDS))
    applied = result.stdout.splitlines()
    assert len(applied) == len(KINDS) and all("serverside-applied (server dry run)" in a for a in applied), (
        result
    )


def test_apply_k_the_bundle(cluster: Any) -> None:
    # The Namespace must exist for the server to dry-run the objects inside it (a dry-run
    # creates nothing); it is the bundle's own namespace.yaml, as the operator tests install it.
    kubectl(cluster.kubeconfig, "apply", "--server-side", "-f", str(BUNDLE / "namespace.yaml"))
    result = kubectl(cluster.kubeconfig, *APPLY, "-k", str(BUNDLE))
    applied = {line.split(" ", 1)[0] for line in result.stdout.splitlines()}
    expected = {f"customresourcedefinition.apiextensions.k8s.io/{k.plural}.cverag.io" for k in KINDS} | {
        "namespace/cverag-system",
        "serviceaccount/cverag-operator",
        "clusterrole.rbac.authorization.k8s.io/cverag-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/cverag-operator",
        "deployment.apps/cverag-operator",
    }
    assert expected <= applied, result.stdout


def test_apply_f_crds_then_the_bundle(cluster: Any) -> None:
    kubectl(cluster.kubeconfig, "apply", "--server-side", "-f", str(BUNDLE / "namespace.yaml"))
    kubectl(cluster.kubeconfig, *APPLY, "-f", str(CRDS))
    result = kubectl(cluster.kubeconfig, *APPLY, "-k", str(BUNDLE))
    assert "deployment.apps/cverag-operator serverside-applied (server dry run)" in result.stdout
