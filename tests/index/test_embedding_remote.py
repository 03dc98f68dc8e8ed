"""The Hugging Face and TEI providers, through their real clients, against a local server.

The Hugging Face Inference API and a text-embeddings-inference deployment are remote
services, so tests/fakes/embedding_server.py speaks their documented protocols on 127.0.0.1:
``huggingface_hub.InferenceClient.feature_extraction`` POSTs to the model's route
(``/hf-inference/models/<model>/pipeline/feature-extraction``, here under a local base URL as a
dedicated Inference Endpoint URL would be), and TEI's ``POST /embed``.  The server computes
vectors with the real local MiniLM, scaled by 3, so the tests check the providers return
the model's vectors, normalised, in order, with the token sent and transient errors retried.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.fakes.embedding_server import FakeEmbeddingService
from workloads.index.embedding import EmbeddingConfig, EmbeddingError, config_from_env, create_embedder
from workloads.index.embedding.local import LocalEmbedder

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TOKEN = "hf_test_token_not_real"
TEXTS = [f"CVE-2024-{n:04d}: buffer overflow number {n} in the parser" for n in range(11)]


@pytest.fixture
def service(local_embedder: LocalEmbedder) -> Iterator[FakeEmbeddingService]:
    with FakeEmbeddingService(local_embedder.embed, token=TOKEN, scale=3.0, max_client_batch_size=4) as svc:
        yield svc


def test_huggingface_provider_returns_normalised_model_vectors(
    service: FakeEmbeddingService, local_embedder: LocalEmbedder
) -> None:
    config = EmbeddingConfig(
        provider="huggingface", url=service.hf_model_url(MODEL), token=TOKEN, batch_size=5
    )
    embedder = create_embedder(config)
    vectors = embedder.embed(TEXTS)
    assert np.allclose(vectors, local_embedder.embed(TEXTS), atol=1e-5)
    assert [len(r.json["inputs"]) for r in service.requests] == [5, 5, 1]
    assert {r.path for r in service.requests} == {
        f"/hf-inference/models/{MODEL}{'/pipeline/feature-extraction'}"
    }
    assert embedder.dimension == 384


def test_huggingface_default_route_is_the_serverless_model_pipeline() -> None:
    embedder = create_embedder(EmbeddingConfig(provider="huggingface", model=MODEL, token=TOKEN))
    assert embedder.endpoint.endswith(f"/hf-inference/models/{MODEL}/pipeline/feature-extraction")  # type: ignore[attr-defined]


def test_huggingface_retries_while_the_model_loads(service: FakeEmbeddingService) -> None:
    service.loading_replies = 2
    embedder = create_embedder(
        EmbeddingConfig(provider="huggingface", url=service.hf_model_url(MODEL), token=TOKEN)
    )
    assert len(embedder.embed(["sql injection"])) == 1
    assert len(service.requests) == 3


def test_wrong_token_is_an_error_that_does_not_leak_it(service: FakeEmbeddingService) -> None:
    wrong = "hf_wrong_token_value"
    embedder = create_embedder(
        EmbeddingConfig(provider="huggingface", url=service.hf_model_url(MODEL), token=wrong)
    )
    with pytest.raises(EmbeddingError, match="status 401") as caught:
        embedder.embed(["x"])
    assert wrong not in str(caught.value)
    assert wrong not in repr(EmbeddingConfig(provider="huggingface", token=wrong))


def test_tei_provider_splits_batches_the_server_refuses(
    service: FakeEmbeddingService, local_embedder: LocalEmbedder
) -> None:
    embedder = create_embedder(
        EmbeddingConfig(provider="tei", url=service.base_url, token=TOKEN, batch_size=10)
    )
    vectors = embedder.embed(TEXTS)
    assert np.allclose(vectors, local_embedder.embed(TEXTS), atol=1e-5)
    sizes = [len(r.json["inputs"]) for r in service.requests]
    # 10 inputs draw a 413, so do the halves of 5; what the server accepted covers every text once.
    assert sizes[:2] == [10, 5]
    assert sum(s for s in sizes if s <= service.max_client_batch_size) == len(TEXTS)
    assert all(r.json["truncate"] is True for r in service.requests)


def test_tei_needs_a_url() -> None:
    with pytest.raises(ValueError, match="CVERAG_EMBEDDING_URL"):
        create_embedder(EmbeddingConfig(provider="tei"))


def test_configuration_from_environment() -> None:
    env = {
        "CVERAG_EMBEDDING_PROVIDER": "huggingface",
        "CVERAG_EMBEDDING_MODEL": "BAAI/bge-small-en-v1.5",
        "CVERAG_HF_TOKEN": TOKEN,
        "CVERAG_EMBEDDING_BATCH_SIZE": "8",
        "CVERAG_EMBEDDING_DIMENSION": "384",
        "CVERAG_EMBEDDING_THREADS": "2",
    }
    config = config_from_env(env)
    assert config.threads == 2
    assert (config.provider, config.model, config.token, config.batch_size, config.dimension) == (
        "huggingface",
        "BAAI/bge-small-en-v1.5",
        TOKEN,
        8,
        384,
    )
    assert config_from_env({}).provider == "local"
    with pytest.raises(ValueError, match="CVERAG_EMBEDDING_PROVIDER"):
        config_from_env({"CVERAG_EMBEDDING_PROVIDER": "openai"})
