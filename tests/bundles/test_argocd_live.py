"""Statuses a real operator writes, against the Argo CD health checks and their testdata.

The operator runs from the chart's namespaced mode (a Role in the one namespace it watches,
nothing cluster-wide) and reconciles the quickstart's four resources without their Secrets,
Kafka or PostgreSQL, so each reports why it is not ready.  The committed ``testdata/live-*.yaml``
were captured this way (``CVERAG_CAPTURE_LIVE=1`` rewrites them); the test fails when what the
operator writes now no longer has their shape, or when the health check judges it otherwise.
It also shows the Roles-only RBAC is enough: no request may be refused but the cluster-scoped
CRD and namespace watches kopf does without.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from controllers.api import KINDS
from tests.bundles.argo_health import health
from tests.bundles.live import namespaced_operator
from tests.bundles.test_argocd_health import CUSTOMIZATIONS
from tests.controllers import helpers

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
QUICKSTART = ("10-cvefeed.yaml", "20-cvestore.yaml", "30-cveindex.yaml", "40-ragendpoint.yaml")
# kopf's warnings that it cannot follow CRDs and namespaces cluster-wide: by design in this mode.
CLUSTER_SCOPED = ("customresourcedefinitions", "namespaces", "Not enough permissions to watch for resources")


def captured_file(kind: str) -> Path:
    return CUSTOMIZATIONS / kind / "testdata" / "live-not-ready.yaml"


def normalised(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as Argo CD would see it, minus what changes every run (times, the namespace)."""
    obj = json.loads(json.dumps(obj).replace(obj["metadata"]["namespace"], "cverag"))
    meta = obj["metadata"]
    conditions = [
        {**c, "lastTransitionTime": "2026-12-02T06:00:00Z"} for c in obj["status"].get("conditions", [])
    ]
    status = {**obj["status"], "conditions": conditions}
    for key in ("lastIngestTime", "lastSyncTime", "lastPollTime"):
        if key in status:
            status[key] = "2026-12-02T06:00:00Z"
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {"name": meta["name"], "namespace": "cverag", "generation": meta["generation"]},
        "spec": obj["spec"],
        "status": status,
    }


def shape(obj: dict[str, Any]) -> dict[str, Any]:
    conditions = obj["status"]["conditions"]
    return {
        "status": sorted(obj["status"]),
        "conditions": {c["type"]: (sorted(c), c["status"], c["reason"]) for c in conditions},
    }


def reported(obj: dict[str, Any] | None) -> bool:
    ready = helpers.condition(obj, "Ready")
    generation = (obj or {}).get("metadata", {}).get("generation")
    return ready is not None and ready.get("observedGeneration") == generation


def test_live_statuses_match_the_testdata_and_the_health_check(
    cluster: Any, kube: client.ApiClient, tmp_path: Path
) -> None:
    with namespaced_operator(kube, cluster, tmp_path) as (operator, ns):
        live = {}
        for name in QUICKSTART:
            body = helpers.quickstart(name)
            plural = next(k.plural for k in KINDS if k.__name__ == body["kind"])
            helpers.create(kube, ns, plural, body)
            obj = helpers.wait_for(kube, ns, plural, body["metadata"]["name"], reported, "Ready reported")
            live[body["kind"]] = normalised(obj)
        refused = [line for line in operator.forbidden_since(0) if not any(r in line for r in CLUSTER_SCOPED)]
        assert not refused, "the chart's namespaced Role lacks a permission:\n" + "\n".join(refused[:5])
    for kind, obj in live.items():
        path = captured_file(kind)
        if os.environ.get("CVERAG_CAPTURE_LIVE") == "1":
            path.write_text(yaml.safe_dump(obj, sort_keys=False))
        captured = yaml.safe_load(path.read_text())
        assert shape(obj) == shape(captured), f"{kind}: the operator's status changed shape; recapture"
        script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
        assert health(script, obj)[0] == health(script, captured)[0]
