"""The OLM bundle agrees with what it packages: its owned CRDs are crds/ (same names, versions,
kinds, and a descriptor for every top-level spec and status field), its permissions are the
chart's operator ClusterRole split into namespaced and cluster-wide rules, its install strategy
is the chart's Deployment, its images are the release's; and, where operator-framework/api's
``operator-verify`` builds from the Go module proxy, that validator accepts the CSV."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from controllers.api import GROUP, KINDS, VERSION
from controllers.api.version import IMAGE
from controllers.api.version import VERSION as RELEASE
from devstack import bundlegen, bundlegen_olm, gotools, proc
from tests.bundles.charts import need_helm
from tests.support.machine import lacks

MANIFESTS = bundlegen_olm.OLM / "manifests"


def csv() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((MANIFESTS / "cverag.clusterserviceversion.yaml").read_text())
    return doc


def test_owned_crds_are_the_crds() -> None:
    owned = {o["name"]: o for o in csv()["spec"]["customresourcedefinitions"]["owned"]}
    assert sorted(owned) == sorted(f"{k.plural}.{GROUP}" for k in KINDS)
    for kind in KINDS:
        crd = yaml.safe_load((bundlegen.REPO / "crds" / f"{GROUP}_{kind.plural}.yaml").read_text())
        assert (MANIFESTS / f"{GROUP}_{kind.plural}.yaml").read_text() == (
            bundlegen.REPO / "crds" / f"{GROUP}_{kind.plural}.yaml"
        ).read_text()
        entry = owned[crd["metadata"]["name"]]
        assert (entry["kind"], entry["version"]) == (crd["spec"]["names"]["kind"], VERSION)
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        for side, descriptors in (("spec", "specDescriptors"), ("status", "statusDescriptors")):
            paths = {d["path"] for d in entry[descriptors]}
            assert set(schema[side]["properties"]) <= paths, (kind.__name__, side)
        conditions = next(d for d in entry["statusDescriptors"] if d["path"] == "conditions")
        assert conditions["x-descriptors"] == ["urn:alm:descriptor:io.kubernetes.conditions"]


def test_permissions_are_the_charts_rbac_and_the_deployment_the_charts() -> None:
    need_helm()
    docs = bundlegen.default_rendering()
    (role,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "cverag-operator"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    install = csv()["spec"]["install"]["spec"]
    (permissions,), (cluster,) = install["permissions"], install["clusterPermissions"]
    assert permissions["serviceAccountName"] == cluster["serviceAccountName"] == "cverag-operator"
    assert sorted(map(str, permissions["rules"] + cluster["rules"])) == sorted(map(str, role["rules"]))
    assert {r for rule in cluster["rules"] for r in rule["resources"]} == {
        "customresourcedefinitions",
        "namespaces",
    }
    (olm_deployment,) = install["deployments"]
    spec = olm_deployment["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    (chart_container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert (
        container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"]
        == "metadata.annotations['olm.targetNamespaces']"
    )
    assert container["env"][1:] == chart_container["env"]
    assert {k: v for k, v in container.items() if k != "env"} == {
        k: v for k, v in chart_container.items() if k != "env"
    }


def test_metadata_images_and_install_modes() -> None:
    spec = csv()["spec"]
    assert csv()["metadata"]["name"] == f"cverag-operator.v{RELEASE}" and spec["version"] == RELEASE
    assert {m["type"] for m in spec["installModes"] if m["supported"]} == {
        "OwnNamespace",
        "SingleNamespace",
        "MultiNamespace",
        "AllNamespaces",
    }
    images = {i["image"] for i in spec["relatedImages"]}
    assert IMAGE in images and csv()["metadata"]["annotations"]["containerImage"] == IMAGE
    annotations = yaml.safe_load((bundlegen_olm.OLM / "metadata" / "annotations.yaml").read_text())[
        "annotations"
    ]
    assert annotations["operators.operatorframework.io.bundle.manifests.v1"] == "manifests/"
    assert annotations["operators.operatorframework.io.bundle.package.v1"] == "cverag"
    examples = yaml.safe_load(csv()["metadata"]["annotations"]["alm-examples"])
    assert sorted(e["kind"] for e in examples) == sorted(k.__name__ for k in KINDS)


OPERATOR_FRAMEWORK_API = (
    "github.com/operator-framework/api",
    "v0.9.1",
    "github.com/operator-framework/api/cmd/operator-verify",
)


def test_operator_framework_validation_accepts_the_bundle(tmp_path: Path) -> None:
    """operator-verify loads manifests/ as a bundle (CSV and CRDs) and runs pkg/validation; a
    copy with a CSV version that is not semver shows it really judges (it must refuse that)."""
    try:
        verify = gotools.go_tool(*OPERATOR_FRAMEWORK_API)
    except proc.ServiceError as exc:
        lacks(
            f"operator-framework/api {OPERATOR_FRAMEWORK_API[1]}'s operator-verify does not build here: {exc}"
        )

    def verdict(directory: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(verify), "manifests", str(directory)], capture_output=True, text=True, check=False
        )

    done = verdict(MANIFESTS)
    assert done.returncode == 0 and "error" not in (done.stdout + done.stderr).lower(), (
        done.stdout + done.stderr
    )
    for path in MANIFESTS.glob("*.yaml"):
        text = path.read_text()
        if path.name.endswith("clusterserviceversion.yaml"):
            text = text.replace(f"  version: {RELEASE}\n", "  version: not-semver\n")
        (tmp_path / path.name).write_text(text)
    refused = verdict(tmp_path)
    assert refused.returncode != 0 and "unable to parse CSV" in refused.stderr, refused.stderr
