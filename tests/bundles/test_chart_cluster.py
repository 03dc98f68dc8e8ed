"""Every rendering of the value matrix, applied to the test API server with ``--dry-run=server``:
the server validates and admits each object (CRD schemas, RBAC, the Deployment, the
prometheus-operator kinds against their real CRDs) without anything starting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devstack import bundlegen
from tests.bundles.charts import MATRIX, dump, need_helm, render
from tests.support.kube import kubectl

pytestmark = pytest.mark.cluster
DRY_RUN = (
    "apply",
    "--server-side",
    "--force-conflicts",
    "--dry-run=server",
    "--field-manager=cverag-bundles",
)
WITH_FILES = {
    "prometheus-rules.yaml": {"metrics": {"prometheusRule": {"enabled": True}}},
    "grafana-dashboard.json": {"metrics": {"dashboard": {"enabled": True}}},
}


def namespaces(cluster: Any, names: list[str]) -> None:
    for name in names:
        if kubectl(cluster.kubeconfig, "get", "namespace", name, check=False).returncode != 0:
            kubectl(cluster.kubeconfig, "create", "namespace", name)


def dry_run(cluster: Any, docs: list[dict[str, Any]], tmp_path: Path) -> set[str]:
    result = kubectl(cluster.kubeconfig, *DRY_RUN, "-f", str(dump(docs, tmp_path / "rendered.yaml")))
    lines = result.stdout.splitlines()
    assert len(lines) == len(docs) and all("(server dry run)" in line for line in lines), result.stdout
    return {line.split(" ", 1)[0] for line in lines}


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_the_server_admits_every_rendering(
    case: str, cluster: Any, monitoring_crds: None, tmp_path: Path
) -> None:
    need_helm()
    values = MATRIX[case]
    namespaces(cluster, [bundlegen.NAMESPACE, *values.get("watchNamespaces", [])])
    docs = render(values)
    applied = dry_run(cluster, docs, tmp_path)
    assert "deployment.apps/cverag-operator" in applied


@pytest.mark.parametrize("name", sorted(WITH_FILES))
def test_the_server_admits_the_rules_and_the_dashboard(
    name: str, cluster: Any, monitoring_crds: None, tmp_path: Path
) -> None:
    if not (bundlegen.MONITORING / name).is_file():
        pytest.skip(f"bundles/monitoring/{name} is not written yet (issue 15, observability)")
    need_helm()
    namespaces(cluster, [bundlegen.NAMESPACE])
    docs = render(WITH_FILES[name])
    applied = dry_run(cluster, docs, tmp_path)
    assert any(a.startswith(("prometheusrule.", "configmap/")) for a in applied), applied
