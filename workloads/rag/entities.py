"""Vendor and product names in a question, matched against the names the store holds.

Embeddings blur rare names ("qdPM", "Tenda AC15") into their word pieces, and full text
splits them into stems; an exact match on the normalised ``vendors``/``products`` arrays
finds them.  Word n-grams (1-5 words) of the question are looked up in the store's sets of
names, loaded on first use and refreshed every few minutes.  Generic words that are also product
names somewhere ("server", "plugin", "firmware") are ignored, or every question would match.

Names come from the store's product vocabulary (workloads/store/products.py: every source's
spelling, aliases linked), so "Ivanti Connect Secure" also finds the records whose CNA wrote
``ICS``.  A name found gives the *exact* CVEs of that product (or vendor), which the retriever
ranks before anything fuzzy; a plural ("routers") is tried singular, and a misspelt vendor
("Mircosoft") is matched to a known one only when nothing was found exactly.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from workloads.common.cache import Refreshed
from workloads.common.pacing import Clock
from workloads.store import products as vocabulary

_WORD = re.compile(r"[a-z0-9][a-z0-9._+\-/]*[a-z0-9+]|[a-z0-9]")
_GENERIC_WORDS = """a an and any are as at be by can cve cves data do does exist file for from has have how i in is it
    its me of on or show that the their there these this to was what when where which who why will with
    about affect affected affecting affects after all allow allows application attack attacker before bug
    bugs code component critical device devices exploit exploited explain flaw flaws high impact issue
    issues known latest list low medium module network new plugin plugins product products recent remote
    score security server service severity software system tell theme use user version versions
    vulnerabilities vulnerability vulnerable web"""
GENERIC = frozenset(_GENERIC_WORDS.split())
MAX_WORDS = 10  # product names run long ("Db2 for Linux, UNIX and Windows")
MISSPELT = 6  # shorter words are too often another word one letter away


@dataclass(frozen=True)
class Entities:
    vendors: list[str] = field(default_factory=list)  # every spelling of the vendors named
    products: list[str] = field(default_factory=list)  # every spelling of the products named
    pair: tuple[str, str] | None = None  # a vendor and its product, both named
    exact: frozenset[str] = frozenset()  # the CVEs of the product (else vendor) named
    covered: bool = False  # the question names nothing but the product (and versions)
    vendor_named: bool = False  # a vendor of the store is named (not only a product)

    @property
    def empty(self) -> bool:
        return not (self.vendors or self.products)


_VERSIONISH = re.compile(r"^v?\d[\w.\-]*$")


def ngrams(question: str) -> list[str]:
    words = _WORD.findall(question.lower())
    grams = {" ".join(words[i : i + n]) for n in range(1, MAX_WORDS + 1) for i in range(len(words) - n + 1)}
    return sorted(g for g in grams if not all(w in GENERIC for w in g.split()) and len(g) >= 3)


def _variants(gram: str) -> list[str]:
    """The gram as written and singular ("routers" -> "router"), keyed like the vocabulary."""
    name = vocabulary.key(gram)
    out = [name]
    if name.endswith("s") and len(name) > 4:
        out.append(name[:-1])
    return out


def _deletions(word: str) -> set[str]:
    """The word with one letter left out, each way (two words one edit apart share one)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True)
class _Names:
    words: vocabulary.Vocabulary
    product_vendors: dict[str, list[str]]
    near_vendors: dict[str, set[str]]  # one-letter deletions of a vendor's name -> vendors


class NameCatalog:
    """The store's product vocabulary, cached for ``ttl`` seconds (first loaded in the background)."""

    def __init__(self, pool: ConnectionPool[Any], ttl: float = 600.0, clock: Clock = time.monotonic) -> None:
        self.pool = pool
        self._names = Refreshed(self._load, ttl, clock)
        threading.Thread(target=self._warm, name="name-catalog", daemon=True).start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # the first question loads it again, and reports
            self._names.get()

    def names(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The vendor, product and ``vendor:product`` keys known (loaded on first use, then
        again when ``ttl`` seconds old)."""
        words = self._names.get().words
        pairs = words.product_spellings.keys()
        return (
            frozenset(words.vendor_spellings),
            frozenset(p for _, p in pairs),
            frozenset(f"{v}:{p}" for v, p in pairs),
        )

    def _load(self) -> _Names:
        with self.pool.connection() as conn:
            words = vocabulary.load(conn)
        product_vendors: dict[str, list[str]] = {}
        for vendor, product in words.product_spellings:
            product_vendors.setdefault(product, []).append(vendor)
        near: dict[str, set[str]] = {}
        for vendor, cves in words.vendor_cves.items():
            if len(vendor) >= MISSPELT and " " not in vendor and len(cves) >= 3:
                for variant in _deletions(vendor) | {vendor}:
                    near.setdefault(variant, set()).add(vendor)
        return _Names(words, product_vendors, near)

    def find(self, question: str) -> Entities:
        names = self._names.get()
        words = names.words
        grams = ngrams(question)
        vendors = [v for g in grams for v in _variants(g)[:1] if v in words.vendor_spellings]
        if not vendors:
            vendors = _misspelt(question, names.near_vendors)
        pairs = [
            (vendor, name)
            for g in grams
            for name in _variants(g)
            for vendor in names.product_vendors.get(name, [])
            if vendor in vendors or len(names.product_vendors[name]) <= 3
        ]
        pairs = [p for p in pairs if p[1] not in vendors or p[0] == p[1]]
        of_named = [p for p in pairs if p[0] in vendors]  # "Rockwell Automation": not Ivanti's "automation"
        pairs = of_named or [p for p in pairs if not any(f" {p[1]} " in f" {v} " for v in vendors)]
        return _entities(question, words, vendors, pairs)


def _misspelt(question: str, near: dict[str, set[str]]) -> list[str]:
    """A known vendor one edit (a letter left out, added, changed or two swapped) from a longer
    word of the question, when no vendor is named exactly."""
    found: set[str] = set()
    for word in _WORD.findall(question.lower()):
        if len(word) >= MISSPELT and word not in GENERIC:
            for variant in _deletions(word) | {word}:
                found |= near.get(variant, set())
    return sorted(found)[:3]


def _entities(
    question: str, words: vocabulary.Vocabulary, vendors: list[str], pairs: list[tuple[str, str]]
) -> Entities:
    if pairs:
        longest = max(len(p[1]) for p in pairs)
        chosen = [p for p in pairs if len(p[1]) == longest]
        members = [m for p in chosen for m in words.group_members(p)]
        exact = frozenset(c for p in chosen for c in words.group_cves(p))
        named = [*(p[1] for p in chosen), *(p[0] for p in chosen), *vendors]
    elif vendors:
        members, exact, named = [], frozenset(c for v in vendors for c in words.vendor_cves[v]), vendors
    else:
        return Entities()
    spelt_vendors = sorted(
        {s for v in {*vendors, *(m[0] for m in members)} for s in words.vendor_spellings[v]}
    )
    spelt_products = sorted({s for m in members for s in words.product_spellings[m]})
    pair = chosen[0] if pairs and len({p[0] for p in chosen}) == 1 and chosen[0][0] in vendors else None
    return Entities(spelt_vendors, spelt_products, pair, exact, _covered(question, named), bool(vendors))


def _covered(question: str, named: list[str]) -> bool:
    """Every word of the question is generic, a version, or part of a name found."""
    inside = {w for n in named for w in _WORD.findall(n)}
    for word in _WORD.findall(vocabulary.key(question)):
        singular = word[:-1] if word.endswith("s") else word
        if word in GENERIC or _VERSIONISH.match(word) or word in inside or singular in inside:
            continue
        return False
    return True
