"""Hybrid retrieval against vector-only retrieval on a question set built from the corpus.

Hybrid must win on exact-id and product questions (the cases pure kNN is known to miss) and
must not lose elsewhere by more than noise.  The table is printed and kept as
``artifacts/rag-quality.json``; bench/rag_quality.py runs the same on a large store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.questions import build, evaluate
from tests.rag.conftest import Corpus
from workloads.rag.service import RagService

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_hybrid_beats_vector_only_on_ids_and_products(corpus: Corpus) -> None:
    questions = build([d for c, d in corpus.records.items() if not c.startswith("CVE-2099-")], per_kind=30)
    service = RagService(corpus.settings(), embedder=corpus.embedder)
    try:
        table = {
            mode: evaluate(service.retriever, service.reader, questions, mode)
            for mode in ("hybrid", "vector")
        }
    finally:
        service.pool.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "rag-quality.json").write_text(json.dumps(table, indent=2))
    print(json.dumps(table, indent=2))
    hybrid, vector = table["hybrid"], table["vector"]
    assert hybrid["exact_id"]["hit@5"] == 1.0 and hybrid["exact_id"]["hit@5"] > vector["exact_id"]["hit@5"]
    assert hybrid["product"]["hit@5"] > vector["product"]["hit@5"]
    assert (
        hybrid["fact"]["fact_accuracy"] == 1.0
        and hybrid["fact"]["fact_accuracy"] > vector["fact"]["fact_accuracy"]
    )
    assert hybrid["title"]["hit@5"] >= vector["title"]["hit@5"] - 0.1
