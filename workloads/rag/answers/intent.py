"""What kind of answer a question asks for, read from its wording (no model involved).

The families are the ones the version log and the enrichment answer exactly: exploitation
("is X exploited", "likely to be exploited"), KEV addition ("when was X added to KEV"), a
field's course over time ("how did X's CVSS change"), the last update ("what changed in the
last update of X"), the record as of a date ("what did X say on 2024-05-01"), and a vendor's
recent changes ("which CVEs of Cisco changed this week").  Only plain phrasings are
recognised: a question taken for the wrong family would get a precise answer to another
question, while one not recognised still gets the ordinary answer from its records.
Malformed ids ("CVE-2024-123") are found so the answer can say they are not ids at all.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from workloads.common.records import CVE_ID_IN_TEXT

EXPLOITATION = re.compile(
    r"\b(exploit(?:ed|ation|able|s)?|in the wild|ransomware|epss|weaponi[sz]ed|under attack|kev)\b", re.I
)
KEV_ADDED = re.compile(
    r"\b(when|what date|which date|since when|date)\b.*\b(kev|known[- ]exploited|exploited catalog)\b"
    r"|\badded to (?:the )?(?:cisa(?:'s)? )?(kev|known exploited)",
    re.I,
)
_CHANGE = re.compile(
    r"\b(chang|evolv|rescor|revis|modif|updat|differ|histor|over time|timeline|went from|used to)", re.I
)
LAST_UPDATE = re.compile(
    r"\b(last|latest|most recent|recent|newest)\s+(update|change|revision|edit|modification|version)s?\b"
    r"|\bwhat (?:was |has )?(?:changed|updated)\b(?! .*\b(?:since|between|over)\b)",
    re.I,
)
TOPICS = {
    "cvss": re.compile(r"\b(cvss|score|scored|severity|rating|vector|rescored)\b", re.I),
    "cwe": re.compile(r"\b(cwe|weakness(?:es)?|problem ?type)\b", re.I),
    "affected": re.compile(r"\b(affected|versions?|products?|fixed in|patched)\b", re.I),
    "description": re.compile(r"\b(description|summary|wording|text)\b", re.I),
    "references": re.compile(r"\b(references?|links?|advisor(?:y|ies))\b", re.I),
    "state": re.compile(r"\b(state|status|rejected|reject(?:ion)?|withdrawn|published)\b", re.I),
    "ssvc": re.compile(r"\b(ssvc|automatable|technical impact)\b", re.I),
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_WORDY_DAY = re.compile(
    rf"\b(?:{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})|(\d{{1,2}})\s+{_MONTH}\s+(\d{{4}}))\b", re.I
)
_MONTH_YEAR = re.compile(rf"\b(?:in|during|as of|by|at the end of|end of)\s+{_MONTH}\s+(\d{{4}})\b", re.I)
_VERSION_PAIR = re.compile(
    r"\bv(?:ersion)?\s?(\d{1,5})\b.{0,20}?\b(?:and|to|until|through)\s+v(?:ersion)?\s?(\d{1,5})\b", re.I
)
# "CVE-2024-123", "CVE-24-12345", "CVE 2024 1234", "cve2024-1234": meant as ids, not ids.
_LOOSE_ID = re.compile(r"(?<![\w-])CVE[-_ ]?\d{1,6}(?:[-_ ]\d{1,9})?(?![\w-])", re.I)
_WINDOW = re.compile(
    r"\b(?:(this|past|last) (week|month)|(today)|(yesterday)|(?:last|past) (\d{1,3}) (day|week|month)s?)\b",
    re.I,
)
_SINCE = re.compile(r"\bsince\b", re.I)
_VENDOR_CHANGES = re.compile(r"\b(chang|updat|modif|revis|new|added|published)", re.I)


@dataclass(frozen=True)
class Intent:
    """The families a question belongs to (several may apply) and the times it names."""

    exploitation: bool = False
    kev_added: bool = False
    topics: list[str] = field(default_factory=list)
    timeline: bool = False
    last_update: bool = False
    day: date | None = None
    window: tuple[datetime, datetime] | None = None
    malformed: list[str] = field(default_factory=list)
    versions: tuple[int, int] | None = None  # "between v2 and v5"


def day_in(text: str) -> date | None:
    """The first calendar date the text names (``2024-05-01``, ``May 1, 2024``, ``1 May 2024``)."""
    found: list[tuple[int, date]] = []
    for m in _ISO_DAY.finditer(text):
        try:
            found.append((m.start(), date(int(m[1]), int(m[2]), int(m[3]))))
        except ValueError:
            continue
    for m in _WORDY_DAY.finditer(text):
        month_name, day_text, year = (m[1], m[2], m[3]) if m[1] else (m[5], m[4], m[6])
        month = _MONTHS.index(month_name.lower()[:3]) + 1
        try:
            found.append((m.start(), date(int(year), month, int(day_text))))
        except ValueError:
            continue
    for m in _MONTH_YEAR.finditer(text):  # "in June 2024": as the month ended
        year, month = int(m[2]), _MONTHS.index(m[1].lower()[:3]) + 1
        found.append((m.start(), date(year, month, calendar.monthrange(year, month)[1])))
    return min(found)[1] if found else None


def malformed_ids(text: str) -> list[str]:
    """Things written as CVE ids that are not valid ones, in order, without repeats."""
    valid = {m.span() for m in CVE_ID_IN_TEXT.finditer(text)}
    seen: dict[str, None] = {}
    for m in _LOOSE_ID.finditer(text):
        if not any(start <= m.start() < end for start, end in valid):
            seen.setdefault(m[0], None)
    return list(seen)


def window(text: str, now: datetime) -> tuple[datetime, datetime] | None:
    """``[since, until)`` a question's "this week", "today", "last 3 days" or "since <date>" names."""
    if m := _WINDOW.search(text):
        if m[3] or m[4]:
            start = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC) - timedelta(days=bool(m[4]))
            return start, (start + timedelta(days=1)) if m[4] else now
        count, unit = (1, m[2]) if m[2] else (int(m[5]), m[6])
        days = {"day": 1, "week": 7, "month": 30}[unit.lower()] * count
        return now - timedelta(days=days), now
    if _SINCE.search(text) and (since := day_in(text[_SINCE.search(text).start() :])):  # type: ignore[union-attr]
        return datetime.combine(since, datetime.min.time(), tzinfo=UTC), now
    return None


def read(question: str, now: datetime | None = None) -> Intent:
    """The families of ``question``; ``now`` anchors "this week" (the request's ``as_of``, else now)."""
    now = now or datetime.now(UTC)
    text = CVE_ID_IN_TEXT.sub(" ", question)
    kev_added = bool(KEV_ADDED.search(text))
    change = bool(_CHANGE.search(text))
    topics = [name for name, pattern in TOPICS.items() if pattern.search(text)] if change else []
    last = bool(LAST_UPDATE.search(text)) and not topics
    span = window(text, now) if _VENDOR_CHANGES.search(text) else None
    pair = _VERSION_PAIR.search(text)
    return Intent(
        exploitation=bool(EXPLOITATION.search(text)) and not kev_added,
        kev_added=kev_added,
        topics=topics,
        timeline=change and not last,
        last_update=last,
        day=None if span else day_in(text),
        window=span,
        malformed=malformed_ids(question),
        versions=(int(pair[1]), int(pair[2])) if pair else None,
    )
