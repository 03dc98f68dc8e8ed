"""The Argo CD health checks of the four kinds, run with Lua 5.1 (lupa) on Argo CD's own test
layout: every case of each kind's ``health_test.yaml`` on its ``testdata/``, among them
statuses the operator really wrote (``testdata/live-*.yaml``, see test_argocd_live.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controllers.api import KINDS
from devstack import bundlegen
from tests.bundles.argo_health import argo_tests, health

CUSTOMIZATIONS = bundlegen.ARGOCD / "resource_customizations" / "cverag.io"
CASES = [(kind.__name__, *case) for kind in KINDS for case in argo_tests(CUSTOMIZATIONS / kind.__name__)]


@pytest.mark.parametrize(
    ("kind", "path", "status", "message"), CASES, ids=[f"{c[0]}-{c[1].stem}" for c in CASES]
)
def test_health_check_cases(kind: str, path: Path, status: str, message: str) -> None:
    script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
    obj = yaml.safe_load(path.read_text())
    assert obj["kind"] == kind
    assert health(script, obj) == (status, message)


def test_every_kind_covers_every_outcome_and_real_statuses() -> None:
    for kind in KINDS:
        cases = argo_tests(CUSTOMIZATIONS / kind.__name__)
        assert {s for _, s, _ in cases} == {"Healthy", "Progressing", "Degraded"}, kind.__name__
        assert any(p.name.startswith("live-") for p, _, _ in cases), (
            f"{kind.__name__}: no status the operator wrote"
        )
        listed = {p.name for p, _, _ in cases}
        assert listed == {p.name for p in (CUSTOMIZATIONS / kind.__name__ / "testdata").glob("*.yaml")}


def test_argocd_cm_carries_the_same_scripts() -> None:
    cm = yaml.safe_load((bundlegen.ARGOCD / "argocd-cm-health.yaml").read_text())
    for kind in KINDS:
        script = (CUSTOMIZATIONS / kind.__name__ / "health.lua").read_text()
        assert cm["data"][f"resource.customizations.health.cverag.io_{kind.__name__}"] == script
    app = cm["data"]["resource.customizations.health.argoproj.io_Application"]
    synced = {"kind": "Application", "metadata": {"name": "x"}, "status": {"health": {"status": "Healthy"}}}
    assert health(app, synced) == ("Healthy", "")
    assert health(app, {"kind": "Application", "metadata": {"name": "x"}})[0] == "Progressing"
