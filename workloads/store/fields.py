"""Typed, forgiving accessors for untrusted JSON, shared by the two normalisers.

Upstream records are valid JSON but not always valid CVE JSON: a score arrives as a
string, a date without a zone, a list where an object was expected.  A normaliser that
raised on such a record would block the partition it came from, so every accessor here
returns ``None``/empty on anything unexpected and the full record is still stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

SEVERITY_ORDER = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of ``value`` when it is a list; nothing otherwise.  (A list, not a
    generator: this runs ~35 times per record and generator set-up showed in profiles.)"""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def strings(value: Any) -> list[str]:
    """The string items of ``value`` when it is a list."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def text(value: Any) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def score(value: Any) -> float | None:
    """A CVSS base score in 0..10, accepting numbers and numeric strings."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 10.0 else None


def aware(moment: datetime) -> datetime:
    """A datetime without a zone is UTC, as the CVE schema specifies for its timestamps."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (zone-less means UTC), or ``None`` when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def day(value: Any) -> date | None:
    """A calendar date (``2024-07-09`` or a full timestamp, whose date part is taken)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def severity(value: Any) -> str | None:
    name = text(value)
    return name.upper() if name and name.upper() in SEVERITY_ORDER else None


def severity_from_score(base: float | None, v2: bool = False) -> str | None:
    """The qualitative rating of a score when the metric carries none (CVSS v2.0 never does):
    v2.0 ranges are LOW < 4 <= MEDIUM < 7 <= HIGH; v3/v4 add NONE (0) and CRITICAL (>= 9)."""
    if base is None:
        return None
    if v2:
        return "LOW" if base < 4.0 else "MEDIUM" if base < 7.0 else "HIGH"
    if base == 0.0:
        return "NONE"
    if base < 4.0:
        return "LOW"
    if base < 7.0:
        return "MEDIUM"
    return "HIGH" if base < 9.0 else "CRITICAL"


def unique(values: Iterable[str | None]) -> list[str]:
    """Distinct non-empty values in first-seen order (stable across runs, so diffs stay quiet)."""
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)


def cpe_vendor_product(cpe: str) -> tuple[str | None, str | None]:
    """Vendor and product of a CPE 2.3 name (``cpe:2.3:a:vendor:product:...``)."""
    parts = cpe.split(":")
    if len(parts) < 5 or parts[0] != "cpe":
        return None, None
    vendor, product = (None if p in ("*", "-", "") else p.replace("\\", "") for p in parts[3:5])
    return vendor, product


def lowered(value: str | None) -> str | None:
    """Case-folded, whitespace-collapsed name for matching; ``n/a`` placeholders mean nothing."""
    if not value:
        return None
    folded = " ".join(value.split()).lower()
    return None if folded in ("n/a", "na", "unknown", "-", "*") else folded
