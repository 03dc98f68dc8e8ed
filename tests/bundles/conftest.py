"""Fixtures of the bundle tests: the prometheus-operator CRDs, so ServiceMonitors, PodMonitors
and PrometheusRules are validated by the API server against their real schemas."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from devstack import proc
from tests.support.kube import kubectl
from tests.support.machine import lacks

PROMETHEUS_OPERATOR = ("github.com/prometheus-operator/prometheus-operator", "v0.80.1")
MONITORING_CRDS = ("servicemonitors", "podmonitors", "prometheusrules")


def prometheus_operator_crds() -> list[Path]:
    """The CRD files of prometheus-operator's Go module (example/prometheus-operator-crd)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    module, version = PROMETHEUS_OPERATOR
    with tempfile.TemporaryDirectory() as tmp:
        out = proc.run(
            [go, "mod", "download", "-json", f"{module}@{version}"], cwd=Path(tmp), what="go mod download"
        )
    folder = Path(json.loads(out)["Dir"]) / "example" / "prometheus-operator-crd"
    return [folder / f"monitoring.coreos.com_{plural}.yaml" for plural in MONITORING_CRDS]


@pytest.fixture(scope="session")
def monitoring_crds(cluster: Any) -> None:
    try:
        files = prometheus_operator_crds()
    except proc.ServiceError as exc:  # pragma: no cover - no Go module proxy
        lacks(f"prometheus-operator CRDs unavailable from the Go module proxy: {exc}")
    for path in files:
        kubectl(cluster.kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(path))
    for plural in MONITORING_CRDS:
        kubectl(
            cluster.kubeconfig, "wait", "--for=condition=Established", f"crd/{plural}.monitoring.coreos.com"
        )
