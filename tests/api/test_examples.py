"""Every example applies cleanly to a real API server, and kubectl shows and explains them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, utils

from controllers.api import GROUP, KINDS, VERSION
from tests.support.kube import kubectl, load_yaml_docs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.yaml"))
PLURALS = {k.kind: k.plural for k in KINDS}


def apply_file(kube: client.ApiClient, namespace: str, path: Path) -> list[str]:
    custom = client.CustomObjectsApi(kube)
    kinds = []
    for doc in load_yaml_docs(path):
        kinds.append(doc["kind"])
        if doc["kind"] in PLURALS:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURALS[doc["kind"]], doc, field_validation="Strict"
            )
        else:
            utils.create_from_dict(kube, doc, namespace=namespace)
    return kinds


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_accepted(kube: client.ApiClient, cverag_crds: Any, namespace: str, path: Path) -> None:
    kinds = apply_file(kube, namespace, path)
    assert len(kinds) == len(load_yaml_docs(path)) > 0


def test_quickstart_listed_by_category_with_columns(
    kube: client.ApiClient, cverag_crds: Any, namespace: str, cluster: Any
) -> None:
    for path in sorted((EXAMPLES / "quickstart").glob("*.yaml")):
        apply_file(kube, namespace, path)
    out = kubectl(cluster.kubeconfig, "get", "cverag", "-n", namespace).stdout
    for kind in ("cvefeed.cverag.io/cvelist", "cvestore.cverag.io/cves", "cveindex.cverag.io/cves-minilm"):
        assert kind in out, out
    assert "ragendpoint.cverag.io/cve-qa" in out, out
    feeds = kubectl(cluster.kubeconfig, "get", "cvefeeds", "-n", namespace).stdout.splitlines()[0].split()
    assert feeds == ["NAME", "READY", "REASON", "SOURCE", "TOPIC", "RELEASE", "RECORDS", "AGE"]
    rags = kubectl(cluster.kubeconfig, "get", "rag", "-n", namespace).stdout.splitlines()[0].split()
    assert rags == ["NAME", "READY", "REASON", "ENGINE", "REPLICAS", "URL", "AGE"]


def test_explain_prints_field_descriptions(cverag_crds: Any, cluster: Any) -> None:
    out = kubectl(cluster.kubeconfig, "explain", "cvefeed.spec.source").stdout
    assert "exactly one of cvelistV5, nvd or file" in out
    assert "Follow the NVD CVE API 2.0" in out
    nested = kubectl(cluster.kubeconfig, "explain", "cvefeed.spec.source.nvd.windowDays").stdout
    assert "at most 120 days" in nested
