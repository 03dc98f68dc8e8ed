"""The product vocabulary: every name a source gives a product, with its aliases linked.

Sources spell one product many ways: the CNA writes ``Connect Secure`` or ``ICS``, CISA-ADP
and CPE strings ``connect_secure``, the KEV catalog ``Connect Secure, Policy Secure, and
Neurons``.  Names are compared by a *key* (case-folded, ``_``/``-``/spaces collapsed); two
keys of one vendor are the same product when one record names both from different sources
and they agree in one of two ways the data shows: the record names one product per source
and the two names share a word ("Windows" and "Windows 10 Version 1809"), or one is the initials of the other, with or without the
vendor's (``ics`` = Ivanti Connect Secure).  Nothing is hand-coded: aliases come only from
records (migration 011's ``product_mentions`` view).  A KEV product list is split into its
names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[a-z0-9][a-z0-9._+\-/]*[a-z0-9+]|[a-z0-9]")
_KEV_LIST = re.compile(r",\s*(?:and\s+)?|\s+and\s+|\s*/\s*")
_NOT_A_NAME = {"", "n/a", "*", "-", "unknown", "n a"}


def key(name: str | None) -> str:
    """A name as compared: its words, case-folded, ``_`` and punctuation between them as one
    space (the words a question is split into, so a question's n-grams compare equal)."""
    return " ".join(_WORD.findall((name or "").lower().replace("_", " ")))


def initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w)


@dataclass
class Vocabulary:
    """Keys of vendors and (vendor, product) pairs, the raw spellings behind each key, and the
    CVEs naming each product group."""

    vendor_spellings: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    product_spellings: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    cves: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    vendor_cves: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _parent: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def group(self, pair: tuple[str, str]) -> tuple[str, str]:
        """The product group's representative (union-find root)."""
        parent = self._parent.setdefault(pair, pair)
        if parent != pair:
            parent = self._parent[pair] = self.group(parent)
        return parent

    def link(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        ra, rb = self.group(a), self.group(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def members(self, pair: tuple[str, str]) -> list[tuple[str, str]]:
        root = self.group(pair)
        return [p for p in self.product_spellings if self.group(p) == root]

    def products_of(self, vendor: str) -> list[str]:
        return [p for v, p in self.product_spellings if v == vendor]

    def finish(self) -> None:
        """Each product group's CVEs, gathered onto its representative."""
        merged: dict[tuple[str, str], set[str]] = defaultdict(set)
        for pair, ids in self.cves.items():
            merged[self.group(pair)] |= ids
        self.cves = merged
        self._members: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for pair in self.product_spellings:
            self._members[self.group(pair)].append(pair)

    def group_members(self, pair: tuple[str, str]) -> list[tuple[str, str]]:
        return self._members.get(self.group(pair), [pair])

    def group_cves(self, pair: tuple[str, str]) -> set[str]:
        return self.cves.get(self.group(pair), set())


def _names(source: str, product: str | None) -> list[str]:
    if source == "kev":
        return [n for n in (key(p) for p in _KEV_LIST.split(product or "")) if n not in _NOT_A_NAME]
    name = key(product)
    return [] if name in _NOT_A_NAME else [name]


def _same_product(vendor: str, a: str, b: str, alone: bool) -> bool:
    if a == b or (alone and set(a.split()) & set(b.split())):
        return True
    short, long_ = sorted((a, b), key=len)
    squeezed = short.replace(" ", "")
    return len(long_.split()) >= 2 and squeezed in (initials(long_), initials(f"{vendor} {long_}"))


def build(mentions: Iterable[tuple[str, str, str | None, str | None]]) -> Vocabulary:
    """The vocabulary of ``(cve_id, source, vendor, product)`` rows."""
    vocabulary = Vocabulary()
    by_cve: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for cve_id, source, raw_vendor, raw_product in mentions:
        vendor = key(raw_vendor)
        if vendor in _NOT_A_NAME:
            continue
        vendor_source = "cpe" if source in ("adp", "cpe") else source
        vocabulary.vendor_spellings[vendor].add((raw_vendor or "").lower())
        vocabulary.vendor_cves[vendor].add(cve_id)
        for name in _names(source, raw_product):
            pair = (vendor, name)
            vocabulary.group(pair)
            vocabulary.product_spellings[pair].add((raw_product or "").lower() if source != "kev" else name)
            vocabulary.cves[pair].add(cve_id)
            by_cve[cve_id][(vendor, vendor_source)].add(name)
    for named in by_cve.values():
        _link_record(vocabulary, named)
    vocabulary.finish()
    return vocabulary


def _link_record(vocabulary: Vocabulary, named: dict[tuple[str, str], set[str]]) -> None:
    """Link the names one record gives a vendor's products in different sources."""
    by_vendor: dict[str, list[set[str]]] = defaultdict(list)
    for (vendor, _source), names in named.items():
        by_vendor[vendor].append(names)
    for vendor, lists in by_vendor.items():
        for i, first in enumerate(lists):
            for second in lists[i + 1 :]:
                alone = len(first) == 1 and len(second) == 1
                for a in first:
                    for b in second:
                        if _same_product(vendor, a, b, alone):
                            vocabulary.link((vendor, a), (vendor, b))


def load(conn: Any) -> Vocabulary:
    """The vocabulary of the store ``conn``'s search path points at."""
    rows = conn.execute("SELECT cve_id, source, vendor, product FROM product_mentions").fetchall()
    return build(rows)
