"""One version: pyproject's, and every image reference in the repository derived from it.

The CRD defaults, the operator's default workloads image and ``crds/`` are computed from
:mod:`controllers.api.version`; the bundle's Deployment and any example are written by hand.
Each test here fails when one of them names another version or the retired image name.
"""

from __future__ import annotations

import re
import tomllib

import yaml

from controllers.api.feed import CveFeed, JobTemplate
from controllers.api.index import CveIndexSpec
from controllers.api.rag import Api
from controllers.api.store import CveStore
from controllers.api.version import IMAGE, IMAGE_REPOSITORY, VERSION
from controllers.manifests.store import consumer_deployment, migration_job
from devstack.image import REPO
from devstack.wheels import tree_files

REFERENCE = re.compile(r"ghcr\.io/cverag/[A-Za-z0-9._/-]+(?::[A-Za-z0-9._-]+)?")


def test_the_version_is_pyprojects() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert declared == VERSION, "the installed metadata is stale: reinstall (make venv)"
    assert f"{IMAGE_REPOSITORY}:{declared}" == IMAGE


def test_the_crd_defaults_are_the_image() -> None:
    assert JobTemplate().image == IMAGE
    assert CveIndexSpec.model_fields["image"].default == IMAGE
    assert Api().image == IMAGE


def test_the_quickstart_runs_the_image_in_every_pod_the_operator_makes() -> None:
    """The examples name no image: the feed's Job and the store's pods get this release's."""
    docs = {
        d["kind"]: d
        for path in sorted((REPO / "examples/quickstart").glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d
    }
    feed, store = CveFeed.from_body(docs["CveFeed"]), CveStore.from_body(docs["CveStore"])
    assert feed.spec.job.image == IMAGE
    for manifest in (migration_job(store, feed), consumer_deployment(store, feed)):
        containers = manifest["spec"]["template"]["spec"]["containers"]
        assert {c["image"] for c in containers} == {IMAGE}, manifest["metadata"]["name"]


def test_the_bundle_runs_the_image() -> None:
    docs = yaml.safe_load_all((REPO / "bundles/operator/deployment.yaml").read_text())
    (deployment,) = [d for d in docs if d and d["kind"] == "Deployment"]
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [IMAGE]


def test_no_file_names_another_cverag_image() -> None:
    """Every image of the ghcr.io/cverag organisation named in the tree is exactly this release's."""
    found: dict[str, set[str]] = {}
    for name in map(str, tree_files()):
        path = REPO / name
        if path.suffix not in {".py", ".yaml", ".yml", ".md", ".toml", ".json", ".tf", ""}:
            continue
        for ref in REFERENCE.findall(path.read_text(errors="replace")):
            found.setdefault(ref, set()).add(name)
    assert found, "no image reference found at all: the scan is broken"
    stray = {ref: sorted(files) for ref, files in found.items() if ref not in (IMAGE, IMAGE_REPOSITORY)}
    assert not stray, f"image references that are not {IMAGE}: {stray}"
