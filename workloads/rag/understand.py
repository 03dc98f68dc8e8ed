"""What a question says on its face: CVE ids, and filters stated clearly enough to apply.

Only unambiguous phrasings become filters ("critical vulnerabilities", "high severity",
"in 2023", "since 2021", "known exploited" / "KEV" / "in the wild"): a filter wrongly taken
from a question silently hides the right answer, while a missed one only costs ranking,
which full text and vectors still provide.  Vendor and product names are matched against
the store's own names elsewhere (:mod:`workloads.rag.entities`).
"""

from __future__ import annotations

import re
from datetime import date

from workloads.common.records import CVE_ID_IN_TEXT
from workloads.store.search import Filters

_SEVERITY = re.compile(
    r"\b(?:(critical)(?:[- ]severity)?\s+(?:vulnerabilit|cve|bug|issue|flaw|securit)|"
    r"(critical|high|medium|low)[- ]severity|severity (?:of |is |rated )?(critical|high|medium|low))",
    re.IGNORECASE,
)
_YEAR = re.compile(
    r"\b(in|during|from|since|after|before|published in|disclosed in)\s+((?:19|20)\d{2})\b"
    r"|\b((?:19|20)\d{2})\s+(?:vulnerabilit|cve)",
    re.IGNORECASE,
)
_KEV = re.compile(
    r"\b(kev|known[- ]exploited|actively[- ]exploited|exploited in the wild|in the wild|under active exploitation)\b",
    re.IGNORECASE,
)


def cve_ids(text: str) -> list[str]:
    """CVE ids in the order they appear, upper-cased, without repeats."""
    seen: dict[str, None] = {}
    for match in CVE_ID_IN_TEXT.finditer(text):
        seen.setdefault(f"CVE-{match[1]}-{match[2]}", None)
    return list(seen)


def filters_from_question(question: str) -> Filters:
    text = CVE_ID_IN_TEXT.sub(" ", question)  # years inside ids are not dates
    found: dict[str, object] = {}
    if severity := _SEVERITY.search(text):
        found["min_severity"] = next(g for g in severity.groups() if g).upper()
    if year := _YEAR.search(text):
        word, number = (year[1] or "").lower(), int(year[2] or year[3])
        if word in ("since", "after"):
            found["published_from"] = date(number + (word == "after"), 1, 1)
        elif word == "before":
            found["published_to"] = date(number, 1, 1)
        else:
            found["published_from"], found["published_to"] = date(number, 1, 1), date(number + 1, 1, 1)
    if _KEV.search(text):
        found["kev"] = True
    return Filters(**found)  # type: ignore[arg-type]
