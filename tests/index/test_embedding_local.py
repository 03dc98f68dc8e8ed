"""The in-process MiniLM (onnxruntime, no torch) matches sentence-transformers and behaves like an embedder.

The reference vectors in minilm_reference.json were produced by sentence-transformers on
torch from the same weights (see make_minilm_reference.py); this test installs nothing heavy.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from workloads.index.embedding import Embedder, from_env
from workloads.index.embedding.local import LocalEmbedder

REFERENCE = json.loads(Path(__file__).with_name("minilm_reference.json").read_text(encoding="utf-8"))


def _reference_vectors() -> np.ndarray:
    rows = [np.frombuffer(base64.b64decode(v), dtype="<f2") for v in REFERENCE["vectors_f16_b64"]]
    return np.stack(rows).astype(np.float32)


def test_vectors_match_sentence_transformers(local_embedder: LocalEmbedder) -> None:
    ours = np.asarray(local_embedder.embed(REFERENCE["texts"]), dtype=np.float32)
    ref = _reference_vectors()
    assert ours.shape == ref.shape == (len(REFERENCE["texts"]), 384)
    cosines = (ours * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(cosines.argmin())
    assert cosines.min() >= 0.999, f"text {worst} {REFERENCE['texts'][worst][:60]!r}: cosine {cosines[worst]}"


def test_is_an_embedder_with_unit_vectors(local_embedder: LocalEmbedder) -> None:
    assert isinstance(local_embedder, Embedder)
    assert local_embedder.dimension == 384
    assert local_embedder.model == "sentence-transformers/all-MiniLM-L6-v2"
    vectors = np.asarray(local_embedder.embed(["heap overflow in libpng", "XSS in the admin panel"]))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert local_embedder.embed([]) == []


def test_result_does_not_depend_on_batch_or_order(local_embedder: LocalEmbedder) -> None:
    """Padding next to a long text must not change a short text's vector (the attention mask works)."""
    short, long_text = "SQL injection", " ".join(REFERENCE["texts"][:3])
    alone = np.asarray(local_embedder.embed([short])[0])
    mixed = local_embedder.embed([long_text, short, "xss"])
    assert np.allclose(mixed[1], alone, atol=1e-5)
    tiny_batches = LocalEmbedder(batch_size=1, encoder=local_embedder._encoder)
    assert np.allclose(tiny_batches.embed([long_text, short, "xss"]), mixed, atol=1e-5)


def test_related_texts_are_closer_than_unrelated(local_embedder: LocalEmbedder) -> None:
    query, related, unrelated = local_embedder.embed(
        [
            "remote code execution through a deserialization flaw",
            "Deserialization of untrusted data allows an attacker to execute arbitrary code remotely.",
            "The installer uses a weak color palette for its progress bar.",
        ]
    )
    assert np.dot(query, related) > np.dot(query, unrelated) + 0.2


@pytest.mark.parametrize("words", [300, 2000])
def test_texts_longer_than_the_window_are_truncated_not_rejected(
    local_embedder: LocalEmbedder, words: int
) -> None:
    text = " ".join(["overflow"] * words)
    (vector,) = local_embedder.embed([text])
    assert len(vector) == 384
    # Everything past 256 word pieces is cut, so 300 and 2000 repetitions embed identically.
    assert np.allclose(vector, local_embedder.embed([" ".join(["overflow"] * 256)])[0], atol=1e-5)


def test_local_provider_from_environment_with_a_thread_limit(local_embedder: LocalEmbedder) -> None:
    """(``local_embedder`` makes sure the model package is installed.)"""
    embedder = from_env({"CVERAG_EMBEDDING_PROVIDER": "local", "CVERAG_EMBEDDING_THREADS": "1"})
    assert isinstance(embedder, LocalEmbedder)
    assert embedder._encoder.session.get_session_options().intra_op_num_threads == 1
    (vector,) = embedder.embed(["use-after-free in the font parser"])
    assert len(vector) == 384
