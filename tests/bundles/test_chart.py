"""The Helm chart, through a real Helm (v3.22.0, built from the Go module proxy): lint, renderings
over the value matrix, refusals of bad values by values.schema.json, and the generated bundles
(kustomize, OLM, Argo CD health checks) matching what the chart renders now."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from controllers.api import KINDS
from controllers.api.version import IMAGE, VERSION
from devstack import bundlegen, helm
from tests.bundles.charts import CHART, MATRIX, kinds, need_helm, refused, render

pytestmark = pytest.mark.usefixtures("helm_ready")


@pytest.fixture(scope="module")
def helm_ready() -> None:
    need_helm()


def operator_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] in {"ClusterRole", "Role"} and d["metadata"]["name"] == "cverag-operator"
    ]


def test_helm_is_the_version_we_build() -> None:
    assert f'Version:"{helm.HELM_VERSION}"' in helm.run(["version"]).stdout


def test_lint_in_strict_mode() -> None:
    done = helm.run(["lint", "--strict", str(CHART)])
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout, done.stdout


def test_chart_version_and_app_version_are_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == VERSION


def test_generated_bundles_match_the_chart() -> None:
    stale = bundlegen.drifted()
    assert not stale, f"run `python -m devstack.bundlegen`; stale: {[str(p) for p in stale]}"


def test_defaults_install_the_crds_kept_on_uninstall_and_the_release_image() -> None:
    docs = render({})
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert sorted(d["metadata"]["name"] for d in crds) == sorted(f"{k.plural}.cverag.io" for k in KINDS)
    assert all(d["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for d in crds)
    for crd in crds:  # the chart's copy is crds/ itself (a symlink), schema and all
        source = yaml.safe_load(
            (bundlegen.REPO / "crds" / f"cverag.io_{crd['spec']['names']['plural']}.yaml").read_text()
        )
        assert crd["spec"] == source["spec"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE
    assert {"name": "CVERAG_WORKLOADS_IMAGE", "value": IMAGE} in container["env"]
    assert not any(e["name"] == "CVERAG_NAMESPACE" for e in container["env"])  # cluster-wide


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_every_rendering_is_well_formed(case: str) -> None:
    docs = render(MATRIX[case])
    assert docs and all(d.get("apiVersion") and d.get("kind") and d["metadata"].get("name") for d in docs)
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(set(keys)) == len(keys), "two objects with one kind, namespace and name"


def test_namespaced_mode_grants_roles_only() -> None:
    namespaces = MATRIX["namespaced"]["watchNamespaces"]
    docs = render(MATRIX["namespaced"])
    bindings = [d for d in docs if d["kind"] in {"ClusterRoleBinding", "RoleBinding"}]
    assert {(d["kind"], d["metadata"]["namespace"]) for d in bindings} == {
        ("RoleBinding", ns) for ns in namespaces
    }
    operator_cluster_roles = [
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "cverag-operator"
    ]
    assert not operator_cluster_roles
    roles = operator_rules(docs)
    assert {r["metadata"]["namespace"] for r in roles} == set(namespaces)
    granted = {res for role in roles for rule in role["rules"] for res in rule["resources"]}
    assert not granted & {"customresourcedefinitions", "namespaces"}
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "CVERAG_NAMESPACE", "value": ",".join(namespaces)} in env


def test_secrets_are_only_read_one_by_one_and_can_be_narrowed_to_names() -> None:
    for values in ({}, MATRIX["namespaced"]):
        for role in operator_rules(render(values)):
            secret_rules = [r for r in role["rules"] if "secrets" in r["resources"]]
            assert [r["verbs"] for r in secret_rules] == [["get"]]
            assert all(r["resources"] == ["secrets"] for r in secret_rules)
    (role,) = operator_rules(render(MATRIX["namespaced-secret-names"]))
    (rule,) = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert rule["resourceNames"] == ["cverag-postgres"]


def test_user_roles_aggregate_into_view_and_edit() -> None:
    docs = {d["metadata"]["name"]: d for d in render({}) if d["kind"] == "ClusterRole"}
    view, edit = docs["cverag-view"], docs["cverag-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "rbac.authorization.k8s.io/aggregate-to-view" not in edit["metadata"]["labels"]
    assert {v for r in view["rules"] for v in r["verbs"]} == {"get", "list", "watch"}
    assert not any(
        "secrets" in r["resources"]
        for role in docs.values()
        for r in role["rules"]
        if role is not docs["cverag-operator"]
    )


def test_digest_pins_the_image() -> None:
    (deployment,) = [d for d in render(MATRIX["pinned-digest"]) if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/cverag:0.1.0@sha256:" + "a" * 64
    (digest_only,) = [
        d for d in render({"image": {"digest": "sha256:" + "b" * 64}}) if d["kind"] == "Deployment"
    ]
    assert (
        digest_only["spec"]["template"]["spec"]["containers"][0]["image"]
        == "ghcr.io/cverag/cverag@sha256:" + "b" * 64
    )


def test_scheduling_values_reach_the_pod() -> None:
    docs = render(MATRIX["scheduling"])
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert pod[key] == MATRIX["scheduling"][key]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["CVERAG_TICK_SECONDS"] == "10" and env["CVERAG_VERBOSE"] == "true"
    assert env["CVERAG_SYNC_RETRY_SECONDS"] == "30"
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_every_optional_object_is_behind_its_flag() -> None:
    off = {k for k, _ in kinds(render({}))}
    assert not off & {
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }
    on = {k for k, _ in kinds(render(MATRIX["monitoring"]))}
    assert {"ServiceMonitor", "PodMonitor", "NetworkPolicy"} <= on


# values.schema.json: each of these must be refused, naming what is wrong.
BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"image": {"digest": "md5:abc"}}, "/image/digest"),
    ({"image": {"repository": "ghcr.io/cverag/cverag:0.1.0"}}, "/image/repository"),
    ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
    ({"watchNamespaces": ["a", "a"]}, "/watchNamespaces"),
    ({"replicaCount": 2}, "replicaCount"),
    ({"crds": {"create": "yes"}}, "/crds/create"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"operator": {"tickSeconds": 0}}, "/operator/tickSeconds"),
    ({"fullnameOverride": "Cverag"}, "/fullnameOverride"),
    ({"metrics": {"serviceMonitor": {"interval": "soon"}}}, "/metrics/serviceMonitor/interval"),
    ({"rbac": {"secretNames": "cverag-postgres"}}, "/rbac/secretNames"),
    ({"resources": {"gpus": 1}}, "gpus"),
    ({"operator": {"env": [{"value": "x"}]}}, "/operator/env/0"),
]


@pytest.mark.parametrize(("values", "named"), BAD_VALUES, ids=[n for _, n in BAD_VALUES])
def test_schema_refuses_bad_values(values: dict[str, Any], named: str) -> None:
    error = refused(values)
    assert "values don't meet the specifications of the schema" in error and named in error, error


def test_a_service_monitor_without_its_service_is_refused() -> None:
    error = refused({"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}})
    assert "needs metrics.service.enabled" in error


def test_every_value_is_typed_and_described() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node: dict[str, Any], value: Any, path: str) -> None:
        assert node.get("description"), f"{path} has no description"
        assert node.get("type"), f"{path} has no type"
        if isinstance(value, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} accepts unknown keys"
            for key, sub in value.items():
                assert key in node["properties"], f"{path}.{key} is not in the schema"
                walk(node["properties"][key], sub, f"{path}.{key}")

    walk(schema, values, "values")
