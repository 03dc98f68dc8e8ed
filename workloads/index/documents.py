"""One index document per CVE, built from the store's normalised ``cves`` row.

The embedded text holds what a person asking about a vulnerability would name: the id,
the title, the English description, affected vendors/products, CWE ids, severity and
CVSS score, KEV status and the publication date.  ``date_updated`` is left out on purpose:
it moves on every edit (a new reference, a typo fix), and putting it in the text would
re-embed documents whose meaning did not change.

Descriptions longer than :data:`CHUNK_CHARS` are split on sentence or word boundaries into
several chunks (ids ``CVE-…#1``, ``#2``; the first chunk is the CVE id itself), each
repeating the id and title so every vector knows what it is about.  The content hash covers
the chunk texts, the metadata and the embedding model, so an unchanged hash means nothing
needs embedding again.

Metadata follows Pinecone's rules (strings, numbers, booleans, lists of strings; no nulls)
so both backends can filter on it with the same filter language.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

CHUNK_CHARS = 1000
MAX_NAMES = 20
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class CveRow:
    """The columns of ``cves`` a document is made of (see :data:`ROW_COLUMNS`)."""

    cve_id: str
    state: str
    title: str | None
    description: str | None
    base_score: float | None
    base_severity: str | None
    cwe_ids: list[str]
    vendor_products: list[str]
    vendors: list[str]
    products: list[str]
    kev_date_added: date | None
    date_published: datetime | None


ROW_COLUMNS = (
    "cve_id, state, title, description, base_score::float8, base_severity, cwe_ids, vendor_products,"
    " vendors, products, kev_date_added, date_published"
)


@dataclass(frozen=True)
class CveDocument:
    cve_id: str
    texts: list[str]
    metadata: dict[str, Any]
    content_hash: str

    @property
    def chunk_ids(self) -> list[str]:
        return chunk_ids(self.cve_id, len(self.texts))


def chunk_ids(cve_id: str, chunks: int) -> list[str]:
    return [cve_id if n == 0 else f"{cve_id}#{n}" for n in range(chunks)]


def cve_of(item_id: str) -> str:
    """The CVE id of a chunk id (``CVE-2024-1#2`` -> ``CVE-2024-1``)."""
    return item_id.split("#", 1)[0]


def split_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Pieces of at most ``limit`` characters, cut after a sentence where possible, else a word."""
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        for word_run in _words_within(sentence, limit):
            if current and len(current) + 1 + len(word_run) > limit:
                pieces.append(current)
                current = word_run
            else:
                current = f"{current} {word_run}".strip()
    if current:
        pieces.append(current)
    return pieces or [""]


def _words_within(sentence: str, limit: int) -> list[str]:
    """A sentence as runs of whole words of at most ``limit`` characters (a word longer than
    ``limit`` is cut: a base64 blob in a description must not make a chunk unbounded)."""
    runs: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > limit:
            runs.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            runs.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*runs, current] if current else runs


def _facts(row: CveRow) -> list[str]:
    lines = []
    if row.vendor_products or row.products:
        names = (row.vendor_products or row.products)[:MAX_NAMES]
        lines.append("Affected: " + "; ".join(name.replace(":", " ") for name in names))
    if row.cwe_ids:
        lines.append("Weakness: " + ", ".join(row.cwe_ids))
    if row.base_score is not None or row.base_severity:
        score = f" (CVSS {row.base_score:.1f})" if row.base_score is not None else ""
        lines.append(f"Severity: {row.base_severity or 'unknown'}{score}")
    if row.kev_date_added:
        lines.append(f"Known exploited (CISA KEV) since {row.kev_date_added.isoformat()}")
    if row.date_published:
        lines.append(f"Published: {row.date_published.date().isoformat()}")
    return lines


def metadata(row: CveRow) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "cve_id": row.cve_id,
        "title": (row.title or "")[:200],
        "kev": row.kev_date_added is not None,
        "vendors": row.vendors[:MAX_NAMES],
        "products": row.products[:MAX_NAMES],
        "cwe": row.cwe_ids[:MAX_NAMES],
    }
    if row.base_severity:
        meta["severity"] = row.base_severity
    if row.base_score is not None:
        meta["cvss"] = row.base_score
    if row.date_published:
        meta["year"] = row.date_published.year
        meta["published"] = row.date_published.date().isoformat()
    return meta


def build(row: CveRow, model: str) -> CveDocument:
    """The document for ``row``; the hash also names ``model`` so a new model re-embeds all."""
    heading = f"{row.cve_id}: {row.title}" if row.title else row.cve_id
    parts = split_text(row.description or "")
    first = "\n".join([heading, parts[0], *_facts(row)]).strip()
    rest = [f"{heading} (part {n + 1})\n{part}" for n, part in enumerate(parts[1:], start=1)]
    texts = [first, *rest]
    meta = metadata(row)
    digest = hashlib.sha256(
        json.dumps({"model": model, "texts": texts, "metadata": meta}, sort_keys=True).encode()
    ).hexdigest()
    return CveDocument(row.cve_id, texts, meta, digest)
