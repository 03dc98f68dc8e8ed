"""The image as a runtime sees it: its config, what it leaves out, and every program run inside it.

Each program runs as a container (``runc``) the way the operator's manifests run it: as the
image's user, on a read-only root filesystem with only ``/tmp`` writable, no capabilities and no
network.  So an entry point that needs a file the image forgot, writes outside ``/tmp``, wants
root, or reaches for the network to load the embedding model fails here, not on a cluster.
"""

from __future__ import annotations

import tomllib

import pytest

from controllers.api.version import IMAGE, VERSION
from controllers.manifests.common import WORKLOADS_UID
from devstack import image
from tests.image import bundle

pytestmark = pytest.mark.slow

SCRIPTS = sorted(tomllib.loads((image.REPO / "pyproject.toml").read_text())["project"]["scripts"])
# What every manifest of controllers/manifests runs: `python -m <module>`.
MODULES = ("controllers", "workloads.feed", "workloads.store", "workloads.index", "workloads.rag")


def test_the_config_names_the_user_labels_and_command(built: image.Image) -> None:
    config = bundle.oci_config(built)
    settings = config["config"]
    assert settings["User"] == f"{WORKLOADS_UID}:{WORKLOADS_UID}"
    assert settings["Cmd"] == ["cverag-operator"] and not settings.get("Entrypoint")
    env = dict(item.split("=", 1) for item in settings["Env"])
    assert env["HOME"] == env["TMPDIR"] == "/tmp" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith("/opt/cverag/bin:")
    labels = settings["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"] == "https://github.com/cverag/cverag"
    assert labels["org.opencontainers.image.title"] == "cverag"
    assert labels["org.opencontainers.image.description"]
    assert config["os"] == "linux"
    # containerd's importer names the image by this annotation (ctr -n k8s.io images import).
    assert config["_index_annotations"]["io.containerd.image.name"] == IMAGE == built.name


def test_the_final_stage_has_no_pip_compiler_or_build_tools(unpacked: bundle.Unpacked) -> None:
    root = unpacked.rootfs
    for tool in ("pip", "pip3", "gcc", "cc", "c++", "make", "ld", "as"):
        present = [d for d in ("opt/cverag/bin", "usr/local/bin", "usr/bin") if (root / d / tool).exists()]
        assert not present, f"{tool} in {present}"
    site = next((root / "opt/cverag/lib").glob("python3*/site-packages"))
    assert not list(site.glob("pip")) and not list(site.glob("setuptools")), sorted(
        p.name for p in site.iterdir()
    )
    dpkg = (root / "var/lib/dpkg/status").read_text()
    for package in ("python3-pip", "python3-venv", "gcc", "build-essential", "libpython3.11-dev"):
        assert f"Package: {package}\n" not in dpkg, package
    result = unpacked.run("python", "-m", "pip", "--version")
    assert result.returncode != 0 and "No module named pip" in result.stderr


def test_it_runs_as_uid_10001_on_a_read_only_root(unpacked: bundle.Unpacked) -> None:
    script = (
        "id -u; id -g; touch /opt/cverag/x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-ok"
    )
    result = unpacked.run("sh", "-c", script)
    assert result.stdout.split() == [str(WORKLOADS_UID), str(WORKLOADS_UID), "tmp-ok"], result


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_entry_point_prints_its_usage(unpacked: bundle.Unpacked, script: str) -> None:
    result = unpacked.run(script, "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: "), result.stdout[:500]


@pytest.mark.parametrize("module", MODULES)
def test_each_manifest_command_prints_its_usage(unpacked: bundle.Unpacked, module: str) -> None:
    result = unpacked.run("python", "-m", module, "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage: " in result.stdout, result.stdout[:500]


def test_the_local_embedding_model_is_inside_and_needs_no_network(unpacked: bundle.Unpacked) -> None:
    code = (
        "from workloads.index.embedding.minilm import MiniLM\n"
        "vectors = MiniLM().encode(['heap overflow in the TLS handshake'])\n"
        "print(vectors.shape, round(float((vectors[0] ** 2).sum()), 3))"
    )
    result = unpacked.run("python", "-c", code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["(1,", "384)", "1.0"], result.stdout
