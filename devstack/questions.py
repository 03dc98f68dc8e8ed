"""A question set built from real records, and hit@5 / fact accuracy for a retrieval mode.

Four kinds of question, each generated from the records themselves (so every expected
answer is known and nothing is hand-labelled):

* ``exact_id``: "What is CVE-…?" (sometimes lower-cased).
* ``title``: the title paraphrased: lower-cased, filler words dropped, halves swapped.
* ``product``: "Which vulnerabilities affect <product> from <vendor>?"; any record of that
  product is a hit.
* ``fact``: CVSS vector, CWE id or KEV date of a named CVE; correct when the answer's block
  for that CVE states the value verbatim.

Used by tests/rag/test_quality.py (small corpus) and bench/rag_quality.py (large store).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from workloads.rag import prompt
from workloads.rag.records import RecordReader
from workloads.rag.retrieval import Mode, Retriever
from workloads.rag.understand import cve_ids
from workloads.store import fields
from workloads.store.search import Filters

FILLER = frozenset(
    [
        "vulnerability",
        "vulnerabilities",
        "in",
        "the",
        "a",
        "an",
        "of",
        "to",
        "via",
        "and",
        "for",
        "on",
        "with",
        "is",
        "by",
    ]
)
KINDS = ("exact_id", "title", "product", "fact")


@dataclass(frozen=True)
class Question:
    kind: str
    text: str
    expected: frozenset[str]
    fact: str | None = None


def paraphrase(title: str) -> str:
    words = [w for w in re.sub(r"[:()\[\],]", " ", title.lower()).split() if w not in FILLER]
    half = len(words) // 2
    return "which cve is about " + " ".join(words[half:] + words[:half])


def _cna(doc: dict[str, Any]) -> dict[str, Any]:
    return fields.as_dict(fields.as_dict(doc.get("containers")).get("cna"))


def _facts_of(cve: str, doc: dict[str, Any]) -> list[Question]:
    text = json.dumps(doc)
    found = []
    if m := re.search(r'"vectorString": "(CVSS:3\.1/[^"]+)"', text):
        found.append(Question("fact", f"What is the CVSS score of {cve}?", frozenset({cve}), m[1]))
    if m := re.search(r'"cweId": "(CWE-\d+)"', text):
        found.append(Question("fact", f"Which weakness (CWE) is behind {cve}?", frozenset({cve}), m[1]))
    if m := re.search(r'"type": "kev", "content": \{"dateAdded": "(\d{4}-\d{2}-\d{2})', text):
        found.append(
            Question("fact", f"When was {cve} added to the CISA KEV catalog?", frozenset({cve}), m[1])
        )
    return found


def build(docs: list[dict[str, Any]], per_kind: int = 40) -> list[Question]:
    published = [d for d in docs if d["cveMetadata"].get("state") == "PUBLISHED"]
    by_product: dict[str, set[str]] = defaultdict(set)
    named: list[tuple[str, str, str]] = []
    for doc in published:
        cve = doc["cveMetadata"]["cveId"]
        for item in fields.dicts(_cna(doc).get("affected")):
            vendor, product = fields.text(item.get("vendor")), fields.text(item.get("product"))
            if vendor and product and fields.lowered(vendor) and fields.lowered(product):
                by_product[str(fields.lowered(product))].add(cve)
                named.append((cve, vendor, product))
    out: list[Question] = []
    for n, doc in enumerate(published[:per_kind]):
        cve = doc["cveMetadata"]["cveId"]
        out.append(
            Question(
                "exact_id",
                f"What is {cve}?" if n % 2 else f"summarise {cve.lower()} for me",
                frozenset({cve}),
            )
        )
    titled = [d for d in published if len((fields.text(_cna(d).get("title")) or "").split()) >= 4]
    out += [
        Question("title", paraphrase(_cna(d)["title"]), frozenset({d["cveMetadata"]["cveId"]}))
        for d in titled[:per_kind]
    ]
    seen: set[str] = set()
    for _cve, vendor, product in named:
        key = str(fields.lowered(product))
        if key not in seen and len([q for q in out if q.kind == "product"]) < per_kind:
            seen.add(key)
            out.append(
                Question(
                    "product",
                    f"Which vulnerabilities affect {product} from {vendor}?",
                    frozenset(by_product[key]),
                )
            )
    facts = [q for d in published for q in _facts_of(d["cveMetadata"]["cveId"], d)]
    return out + facts[:per_kind]


def _block(answer: str, cve: str) -> str:
    facts = answer.split("Facts from the store:\n", 1)[-1]
    blocks = re.split(r"\n(?=CVE-\d{4}-\d+ - )", facts)
    return next((b for b in blocks if b.startswith(cve + " ")), "")


def evaluate(
    retriever: Retriever, reader: RecordReader, questions: list[Question], mode: Mode
) -> dict[str, dict[str, float]]:
    """Per kind: ``hit@5`` and, for fact questions, ``fact_accuracy``."""
    hits: dict[str, list[bool]] = defaultdict(list)
    correct: list[bool] = []
    for q in questions:
        found = [h.cve_id for h in retriever.search(q.text, 5, Filters(), mode)]
        hits[q.kind].append(bool(set(found) & q.expected))
        if q.fact is None:
            continue
        named = cve_ids(q.text) if mode == "hybrid" else []
        records = reader.current(named) if named else reader.current(found)
        chosen = [records[c][0] for c in (named or found) if c in records]
        answer = prompt.grounded_answer(q.text, chosen, "evaluation")
        correct.append(q.fact in _block(answer, next(iter(q.expected))))
    report = {
        k: {"questions": float(len(v)), "hit@5": round(sum(v) / len(v), 3)} for k, v in hits.items() if v
    }
    if correct:
        report["fact"]["fact_accuracy"] = round(sum(correct) / len(correct), 3)
    return report
