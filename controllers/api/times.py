"""Go-style durations and RFC 3339 timestamps: how every controller reads and writes time.

Specs spell durations the way Kubernetes does ("30s", "15m", "1h30m", "500ms"), and status
fields carry timestamps as metav1.Time does: UTC, whole seconds, a trailing ``Z``.  One
parser and one formatter keep the poll cursor, the retry schedule, the sync interval and
every status time in the same shape.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# The CRD schema's pattern for a duration: one or more <number><unit> parts.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """A Go-style duration in seconds; the CRD's pattern admits no other shape."""
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(duration))


def rfc3339(moment: datetime) -> str:
    """``moment`` as metav1.Time writes it: ``2024-06-01T12:00:00Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """A timestamp the API server or :func:`rfc3339` wrote, as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now() -> str:
    """The current time, formatted by :func:`rfc3339`."""
    return rfc3339(datetime.now(UTC))
