"""What is not there, said first: ids the store lacks, strings that are not ids, rejected
records, and times before a CVE was published.

An answer that shows unrelated records for an id the store lacks reads as if they were that
CVE; so a question whose named ids are all unknown gets these notes and no records at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from workloads.rag.answers.timeline import cited
from workloads.store import fields as f
from workloads.store.models import CveVersion

ID_RULE = "a CVE id is CVE-YYYY-NNNN: a four-digit year and a sequence number of at least four digits"


def missing(cve_id: str) -> str:
    return (
        f"{cve_id} is not in the store: no record with this id has been ingested (the id is well-formed;"
        " it may be reserved but unpublished, or outside the store's sources)."
    )


def malformed(text: str, known: set[str]) -> str:
    """The note for a string written as an id that is not one, with the padded id when the store has it."""
    note = f"{text!r} is not a valid CVE id ({ID_RULE})."
    if (padded := padded_id(text)) and padded in known:
        note += f" The store has {padded}; did you mean it?"
    return note


def padded_id(text: str) -> str | None:
    """``CVE-2024-123`` -> ``CVE-2024-0123``: the id a too-short sequence number most likely meant."""
    found = re.fullmatch(r"(?i)CVE[-_ ]?(\d{4})[-_ ](\d{1,3})", text.strip())
    return f"CVE-{found[1]}-{int(found[2]):04d}" if found else None


def rejection_reason(record: dict[str, Any]) -> str | None:
    cna = f.as_dict(f.as_dict(record.get("containers")).get("cna"))
    reasons = list(f.dicts(cna.get("rejectedReasons")))
    chosen = next((r for r in reasons if str(r.get("lang", "")).lower().startswith("en")), None)
    return f.text((chosen or (reasons[0] if reasons else {})).get("value"))


def rejected(cve_id: str, row: dict[str, Any], record: dict[str, Any], version_ref: str) -> str:
    """The note for a REJECTED record: when, and the reason the CNA gave."""
    when = row.get("date_rejected") or row.get("date_updated")
    reason = rejection_reason(record) or row.get("description")
    return (
        f"{cve_id} is REJECTED ({version_ref}): rejected on {when.date() if isinstance(when, datetime) else when}"
        + (f", reason given: {reason!r}" if reason else ", no reason given")
        + ". It is not a vulnerability record to act on."
    )


def not_yet(cve_id: str, at: datetime, published: datetime | None, first: CveVersion) -> str:
    """The note for a time before the store's first version of a CVE."""
    day = at.date().isoformat()
    if published is not None and published > at:
        return (
            f"{cve_id} was not yet published on {day}: it was published on {published.date()}"
            f" (the store's first version is {cited(first)})."
        )
    return (
        f"The store holds no version of {cve_id} as of {day}: its first stored version is {cited(first)}"
        + (f", though the record says it was published on {published.date()}." if published else ".")
    )
