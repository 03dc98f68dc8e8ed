"""Embedding speed-ups must not change what the index finds (a small fixed sample of real CVEs).

* Large sync rounds: the embedder sorts a round's texts by length, so handing it 512
  documents instead of 64 must give the same vectors in the same order.
* int8: neighbours and hit@5 of title questions against fp32 on the sync's own documents.
  The bar is what the careful recipe reaches (overlap ~0.93, hit@5 within one question);
  naive per-tensor quantization of every MatMul falls well below it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.embedding_quality import agreement, documents, first_chunks, queries, vectors
from devstack import minilm
from workloads.index.documents import CveDocument
from workloads.index.embedding import quantize
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.embedding.minilm import MiniLM

RECORDS = Path(os.environ.get("CVERAG_SHARED_DATA", "/work/shared/data")) / "cve-records.jsonl.gz"
pytestmark = pytest.mark.skipif(not RECORDS.exists(), reason=f"needs the shared CVE records at {RECORDS}")


@pytest.fixture(scope="module")
def sample() -> list[CveDocument]:
    return documents(RECORDS, 160, every=390)  # spread over the whole file, always the same


@pytest.fixture(scope="module")
def int8(tmp_path_factory: pytest.TempPathFactory) -> LocalEmbedder:
    minilm.build()
    cache = tmp_path_factory.mktemp("models")
    return LocalEmbedder(encoder=MiniLM(precision="int8", cache_dir=cache))


def test_one_large_round_gives_the_vectors_of_small_rounds(
    local_embedder: LocalEmbedder, sample: list[CveDocument]
) -> None:
    texts = [t for d in sample for t in d.texts]
    whole = np.asarray(local_embedder.embed(texts))
    rounds = np.concatenate(
        [np.asarray(local_embedder.embed(texts[i : i + 32])) for i in range(0, len(texts), 32)]
    )
    assert whole.shape == (len(texts), local_embedder.dimension)
    assert float((whole * rounds).sum(axis=1).min()) > 0.99999


def test_int8_finds_what_fp32_finds(
    local_embedder: LocalEmbedder, int8: LocalEmbedder, sample: list[CveDocument]
) -> None:
    asked = queries(sample, 120)
    texts, questions = first_chunks(sample), [q for q, _ in asked]
    reference = (vectors(local_embedder.embed, texts), vectors(local_embedder.embed, questions))
    candidate = (vectors(int8.embed, texts), vectors(int8.embed, questions))
    result = agreement(sample, asked, reference, candidate)
    assert len(asked) >= 80
    assert result.cosine_min > 0.98
    assert result.overlap10 >= 0.85
    assert result.hit5_candidate >= result.hit5_reference - 1
    assert result.hit5_reference >= 0.8 * len(asked)  # the questions are answerable at all


def test_int8_model_is_cached_by_recipe_and_survives_a_read_only_cache(tmp_path: Path) -> None:
    minilm.build()
    fp32 = b"not read when cached"
    key = quantize.recipe_key(fp32)
    (tmp_path / f"minilm-int8-{key}.onnx").write_bytes(b"cached model")
    assert quantize.int8_model(fp32, tmp_path) == b"cached model"
    assert quantize.recipe_key(fp32 + b"x") != key
    unwritable = tmp_path / "a-file"  # a cache dir below a file cannot be made, even by root
    unwritable.write_text("")
    encoder = MiniLM(precision="int8", cache_dir=unwritable / "models")
    assert encoder.precision == "int8"
    assert encoder.encode(["SQL injection in a login form"]).shape == (1, encoder.dimension)
