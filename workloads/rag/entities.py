"""Vendor and product names in a question, matched against the names the store holds.

Embeddings blur rare names ("qdPM", "Tenda AC15") into their word pieces, and full text
splits them into stems; an exact match on the normalised ``vendors``/``products`` arrays
finds them.  Word n-grams (1-5 words) of the question are looked up in the store's sets of
names, loaded on first use and refreshed every few minutes.  Generic words that are also product
names somewhere ("server", "plugin", "firmware") are ignored, or every question would match.

A vendor and one of its products named together ("Apache Tomcat") are clear enough to be a
filter; other matches only add a ranked list to the fusion.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from workloads.common.cache import Refreshed
from workloads.common.pacing import Clock

_WORD = re.compile(r"[a-z0-9][a-z0-9._+\-/]*[a-z0-9+]|[a-z0-9]")
_GENERIC_WORDS = """a an and any are as at be by can cve cves data do does exist file for from has have how i in is it
    its me of on or show that the their there these this to was what when where which who why will with
    about affect affected affecting affects after all allow allows application attack attacker before bug
    bugs code component critical device devices exploit exploited explain flaw flaws high impact issue
    issues known latest list low medium module network new plugin plugins product products recent remote
    score security server service severity software system tell theme use user version versions
    vulnerabilities vulnerability vulnerable web"""
GENERIC = frozenset(_GENERIC_WORDS.split())
MAX_WORDS = 5


@dataclass(frozen=True)
class Entities:
    vendors: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    pair: tuple[str, str] | None = None  # a vendor and its product, both named

    @property
    def empty(self) -> bool:
        return not (self.vendors or self.products)


def ngrams(question: str) -> list[str]:
    words = _WORD.findall(question.lower())
    grams = {" ".join(words[i : i + n]) for n in range(1, MAX_WORDS + 1) for i in range(len(words) - n + 1)}
    return sorted(g for g in grams if not all(w in GENERIC for w in g.split()) and len(g) >= 3)


class NameCatalog:
    """The store's vendor, product and ``vendor:product`` names, cached for ``ttl`` seconds."""

    def __init__(self, pool: ConnectionPool[Any], ttl: float = 600.0, clock: Clock = time.monotonic) -> None:
        self.pool = pool
        self._names = Refreshed(self._load, ttl, clock)

    def names(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """Loaded on first use, then again when ``ttl`` seconds old."""
        return self._names.get()

    def _load(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        with self.pool.connection() as conn:
            sets = []
            for column in ("vendors", "products", "vendor_products"):
                rows = conn.execute(f"SELECT DISTINCT unnest({column}) FROM cves").fetchall()
                sets.append(frozenset(str(r[0]) for r in rows))
        return sets[0], sets[1], sets[2]

    def find(self, question: str) -> Entities:
        vendors, products, pairs = self.names()
        grams = ngrams(question)
        found_vendors = [g for g in grams if g in vendors]
        found_products = [g for g in grams if g in products]
        return Entities(found_vendors, found_products, _clear_pair(found_vendors, found_products, pairs))


def _clear_pair(vendors: list[str], products: list[str], pairs: frozenset[str]) -> tuple[str, str] | None:
    """The vendor and product named when the longest product named belongs to exactly one
    vendor named ("Apache Tomcat"); nothing when the longest name has no such vendor (the
    question may name a product line the store spells differently)."""
    if not products:
        return None
    longest = max(products, key=lambda p: (len(p.split()), len(p)))
    owners = [v for v in vendors if v != longest and f"{v}:{longest}" in pairs]
    return (owners[0], longest) if len(owners) == 1 else None
