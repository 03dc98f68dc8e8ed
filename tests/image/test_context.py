"""The two build paths see the same recipe: ``docker build .`` and ``make image``.

A networked ``docker build`` reads its context through ``.dockerignore``; ``devstack/image.py``
stages :data:`~devstack.image.CONTEXT` and hashes it into the cache key.  If the two lists
differ, one path builds an image from files the other never sees (or a changed file does not
invalidate the cached archive).  Both stages must start from the base the local path makes.
"""

from __future__ import annotations

import re

from devstack import image, image_base


def test_dockerignore_allows_exactly_the_staged_context() -> None:
    lines = (image.REPO / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "the context must be an allowlist"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert allowed == set(image.CONTEXT)


def test_every_stage_starts_from_the_base_made_here() -> None:
    dockerfile = (image.REPO / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, flags=re.MULTILINE))
    assert bases and {b for b in bases if b not in stages} == {image_base.NAME}


def test_the_key_follows_every_context_file() -> None:
    files = image.context_files()
    assert "Dockerfile" in files and "requirements/lock.txt" in files
    assert any(f.startswith("workloads/") for f in files) and not any("__pycache__" in f for f in files)
    assert image.recipe_key(files) != image.recipe_key(files[1:])
