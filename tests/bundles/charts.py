"""The chart's value matrix and how a rendering is looked at, shared by the bundle tests."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from devstack import bundlegen, helm, proc
from tests.support.machine import lacks

CHART = bundlegen.CHART
MONITORING = bundlegen.REPO / "bundles" / "monitoring"

# name -> values: every switch of the chart at least once, and the two RBAC modes.
MATRIX: dict[str, dict[str, Any]] = {
    "defaults": {},
    "namespaced": {"watchNamespaces": ["cverag-bundles-a", "cverag-bundles-b"]},
    "namespaced-secret-names": {
        "watchNamespaces": ["cverag-bundles-a"],
        "rbac": {"secretNames": ["cverag-postgres"]},
    },
    "no-crds-no-rbac": {
        "crds": {"create": False},
        "rbac": {"create": False},
        "serviceAccount": {"create": False},
    },
    "pinned-digest": {
        "image": {"repository": "registry.example/cverag", "tag": "0.1.0", "digest": "sha256:" + "a" * 64}
    },
    "scheduling": {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]
                        },
                    }
                ]
            }
        },
        "priorityClassName": "system-cluster-critical",
        "podDisruptionBudget": {"enabled": True},
        "operator": {
            "tickSeconds": 10,
            "verbose": True,
            "env": [{"name": "CVERAG_SYNC_RETRY_SECONDS", "value": "30"}],
        },
    },
    "monitoring": {
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "podMonitor": {"enabled": True},
        },
        "networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.1/32"]},
    },
}


def values_file(values: dict[str, Any], directory: Path) -> Path:
    path = directory / "values.json"
    path.write_text(json.dumps(values))
    return path


def render(values: dict[str, Any], namespace: str = bundlegen.NAMESPACE) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        return bundlegen.render("-f", str(values_file(values, Path(tmp))), namespace=namespace)


def refused(values: dict[str, Any]) -> str:
    """helm's error for values the chart must refuse (fails the test if helm accepts them)."""
    with tempfile.TemporaryDirectory() as tmp:
        done = helm.run(["template", "x", str(CHART), "-f", str(values_file(values, Path(tmp)))], check=False)
    assert done.returncode != 0, f"helm accepted {values}"
    return done.stderr


def kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["metadata"]["name"]) for d in docs)


def need_helm() -> None:
    if shutil.which("go") is None and not Path("/usr/local/go/bin/go").is_file():
        lacks("helm is built from the Go module proxy and no Go toolchain is installed")
    try:
        helm.binary()
    except proc.ServiceError as exc:  # pragma: no cover - an offline machine
        lacks(f"helm could not be built from the Go module proxy: {exc}")


def dump(docs: list[dict[str, Any]], path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path
