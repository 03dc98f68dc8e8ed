"""Product and vendor questions built from a store's own records, and precision@5 for a mode.

Every question names a vendor and/or product the way a user would, generated
deterministically (rows picked by md5 of their names) from the CNA's names in the store:

* ``vendor_product``: "Which vulnerabilities affect Sony XAV-AX5500?" and two other phrasings.
* ``product``: "XAV-AX5500 vulnerabilities" (only for a product name one vendor uses).
* ``vendor``: "Which Sony vulnerabilities are there?".
* ``misspelt``: the vendor with two inner letters swapped ("Snoy"), then the product.
* ``version``: vendor, product and a version the record lists as affected.
* ``plural``: "security issues in Sony XAV-AX5500s".

What is relevant is read independently of the product vocabulary under test: the records
whose normalised ``vendor_products`` (CNA and ADP names, lower-cased) hold the pair, or whose
``vendors``/``products`` hold the name.  precision@5 is the share of the first five hits that
are relevant; its ceiling is min(relevant, 5) / 5.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from workloads.rag.retrieval import Mode, Retriever
from workloads.store.search import Filters

KINDS = ("vendor_product", "product", "vendor", "misspelt", "version", "plural")


@dataclass(frozen=True)
class ProductQuestion:
    kind: str
    text: str
    relevant: frozenset[str]


def _swap(name: str) -> str:
    """Two inner letters swapped, the commonest typing slip; names too short are kept."""
    i = len(name) // 2
    if len(name) < 6 or not name[i - 1 : i + 1].isalpha() or name[i - 1] == name[i]:
        return name
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]


_PAIRS = """
SELECT m.vendor, m.product, min(c.cve_id) AS example, max(v.value) AS version FROM product_mentions m
JOIN cves c USING (cve_id)
LEFT JOIN LATERAL (SELECT a -> 'versions' -> 0 ->> 'version' AS value FROM cve_versions cv,
    jsonb_array_elements(cv.record -> 'containers' -> 'cna' -> 'affected') a
    WHERE cv.cve_id = c.cve_id AND cv.version = c.version AND a ->> 'product' = m.product
      AND (a -> 'versions' -> 0 ->> 'version') ~ '^[0-9][0-9.]*$' LIMIT 1) v ON true
WHERE m.source = 'cna' AND length(m.vendor) >= 3 AND length(m.product) >= 3
  AND lower(m.vendor) NOT IN ('n/a', 'unknown') AND lower(m.product) NOT IN ('n/a', 'unknown')
  AND m.product !~ '[<>*]'
GROUP BY 1, 2 ORDER BY md5(m.vendor || ':' || m.product) LIMIT %s
"""


def _relevant(conn: Any) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    pairs: dict[str, set[str]] = defaultdict(set)
    vendors: dict[str, set[str]] = defaultdict(set)
    products: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        "SELECT cve_id, vendors, products, vendor_products FROM cves WHERE state <> 'REJECTED'"
    ).fetchall()
    for cve_id, vs, ps, vps in rows:
        for v in vs:
            vendors[v].add(cve_id)
        for p in ps:
            products[p].add(cve_id)
        for vp in vps:
            pairs[vp].add(cve_id)
    return pairs, vendors, products


def build(conn: Any, per_kind: int = 40) -> list[ProductQuestion]:
    """About ``per_kind`` questions of each kind (fewer where the store has too few names)."""
    pairs, vendors, products = _relevant(conn)
    owners: dict[str, set[str]] = defaultdict(set)
    for vp in pairs:
        owners[vp.split(":", 1)[1]].add(vp.split(":", 1)[0])
    out: list[ProductQuestion] = []
    counts: dict[str, int] = defaultdict(int)
    seen_vendors: set[str] = set()

    def add(kind: str, text: str, relevant: set[str]) -> None:
        if relevant and counts[kind] < per_kind:
            counts[kind] += 1
            out.append(ProductQuestion(kind, text, frozenset(relevant)))

    phrasings = ("Which vulnerabilities affect {v} {p}?", "{p} by {v} security issues", "CVEs in {v} {p}")
    for n, (vendor, product, _example, version) in enumerate(conn.execute(_PAIRS, [per_kind * 20])):
        v, p = vendor.lower(), product.lower()
        relevant = pairs.get(f"{v}:{p}", set())
        if not relevant:
            continue
        add("vendor_product", phrasings[n % 3].format(v=vendor, p=product), relevant)
        if owners[p] == {v}:
            add("product", f"{product} vulnerabilities", products.get(p, set()))
        if v not in seen_vendors:
            seen_vendors.add(v)
            add("vendor", f"Which {vendor} vulnerabilities are there?", vendors.get(v, set()))
        if _swap(vendor) != vendor:
            add("misspelt", f"{_swap(vendor)} {product} vulnerabilities", relevant)
        if version:
            add("version", f"Is {vendor} {product} {version} vulnerable?", relevant)
        if not p.endswith("s") and p[-1:].isalpha():
            add("plural", f"security issues in {vendor} {product}s", relevant)
    return out


@dataclass(frozen=True)
class Precision:
    kind: str
    questions: int
    precision: float  # mean precision@5
    ceiling: float  # mean min(relevant, 5) / 5
    at_ceiling: float  # share of questions at their ceiling


def evaluate(retriever: Retriever, questions: list[ProductQuestion], mode: Mode) -> list[Precision]:
    """precision@5 per kind and over all (kind ``all``)."""
    scored: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for q in questions:
        hits = retriever.search(q.text, 5, Filters(), mode)
        got = sum(1 for h in hits[:5] if h.cve_id in q.relevant) / 5
        ceiling = min(len(q.relevant), 5) / 5
        scored[q.kind].append((got, ceiling))
        scored["all"].append((got, ceiling))
    return [
        Precision(
            kind,
            len(values),
            sum(g for g, _ in values) / len(values),
            sum(c for _, c in values) / len(values),
            sum(1 for g, c in values if g >= c) / len(values),
        )
        for kind, values in scored.items()
    ]
