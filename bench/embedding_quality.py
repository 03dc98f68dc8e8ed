"""Does the int8 embedder find what fp32 finds?  Neighbour overlap and hit@5 on real CVE documents.

Documents are the index sync's own texts (:func:`workloads.index.documents.build` on the
``cves`` projection of real records), so lengths and wording are what the sync embeds.
Queries are each sampled record's title paraphrased the way devstack/questions.py does
(lower-cased, filler dropped, halves swapped); a query hits when its own CVE is among the
five nearest documents.  Overlap is |top-10(int8) ∩ top-10(fp32)| / 10 per query, averaged.

Used by bench/embedding.py (≥ 2,000 documents, ≥ 300 queries) and
tests/index/test_embedding_quality.py (a small fixed sample).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from devstack.questions import paraphrase
from workloads.index.documents import CveDocument, CveRow, build
from workloads.store.normalise import normalise_cve5

Matrix = npt.NDArray[np.float32]
Embed = Callable[[list[str]], list[list[float]]]


def row_of(record: dict[str, Any]) -> CveRow:
    """The ``cves`` columns the sync reads, from a CVE 5 record (the store's own projection)."""
    cve_id = record["cveMetadata"]["cveId"]
    n = normalise_cve5(record, cve_id)
    base = n.base
    return CveRow(
        cve_id,
        n.state,
        n.title,
        n.description,
        base.score if base else None,
        base.severity if base else None,
        n.cwe_ids,
        n.vendor_products,
        n.vendors,
        n.products,
        n.kev_date_added,
        n.date_published,
    )


def documents(records: Path, count: int, every: int = 1) -> list[CveDocument]:
    """``count`` published records' documents, every ``every``-th line of the file (deterministic)."""
    docs: list[CveDocument] = []
    with gzip.open(records, "rt", encoding="utf-8") as lines:
        for n, line in enumerate(lines):
            if n % every:
                continue
            record = json.loads(line)
            if record.get("cveMetadata", {}).get("state") != "PUBLISHED":
                continue
            docs.append(build(row_of(record), "quality"))
            if len(docs) == count:
                break
    return docs


def queries(docs: list[CveDocument], count: int) -> list[tuple[str, str]]:
    """(question, expected CVE) from titles, skipping documents without one."""
    asked = [(paraphrase(d.metadata["title"]), d.cve_id) for d in docs if d.metadata.get("title")]
    return [q for q in asked if q[0].strip()][:count]


@dataclass(frozen=True)
class Agreement:
    documents: int
    queries: int
    overlap10: float
    overlap10_min: float
    hit5_reference: int
    hit5_candidate: int
    cosine_mean: float
    cosine_min: float

    def lines(self) -> list[str]:
        return [
            f"Quality on {self.documents} real CVE documents and {self.queries} title questions: top-10 "
            f"neighbour overlap with fp32 mean **{self.overlap10:.3f}** (min {self.overlap10_min:.1f}); "
            f"hit@5 fp32 {self.hit5_reference}/{self.queries}, int8 {self.hit5_candidate}/{self.queries}; "
            f"document cosine to fp32 mean {self.cosine_mean:.4f}, min {self.cosine_min:.4f}."
        ]


def vectors(embed: Embed, texts: list[str]) -> Matrix:
    return np.asarray(embed(texts), dtype=np.float32)


def first_chunks(docs: list[CveDocument]) -> list[str]:
    """One text per CVE (the first chunk), so neighbours are CVEs, not chunks of one."""
    return [d.texts[0] for d in docs]


def agreement(
    docs: list[CveDocument],
    asked: list[tuple[str, str]],
    reference: tuple[Matrix, Matrix],
    candidate: tuple[Matrix, Matrix],
) -> Agreement:
    """Compare (document vectors, query vectors) of the candidate with the reference's."""
    ids = np.array([d.cve_id for d in docs])
    expected = np.array([cve for _, cve in asked])
    top_ref = np.argsort(-(reference[1] @ reference[0].T), axis=1)[:, :10]
    top_new = np.argsort(-(candidate[1] @ candidate[0].T), axis=1)[:, :10]
    overlap = np.array([len(set(a) & set(b)) / 10 for a, b in zip(top_ref, top_new, strict=True)])
    cosine = (reference[0] * candidate[0]).sum(axis=1)
    return Agreement(
        documents=len(docs),
        queries=len(asked),
        overlap10=float(overlap.mean()),
        overlap10_min=float(overlap.min()),
        hit5_reference=int((ids[top_ref[:, :5]] == expected[:, None]).any(axis=1).sum()),
        hit5_candidate=int((ids[top_new[:, :5]] == expected[:, None]).any(axis=1).sum()),
        cosine_mean=float(cosine.mean()),
        cosine_min=float(cosine.min()),
    )
