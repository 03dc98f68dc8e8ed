"""Deciding which consumed records become new versions (pure: no I/O, so it is unit-tested).

Rules, in the order the records arrive (Kafka keeps the source's order per CVE key):

* Content identical (same canonical sha256) to the CVE's *current* version is no new
  version, however often it is re-sent.  Any other content is, including a return to an
  older content after a change: history is a sequence, not a set.
* Versions number 1, 2, 3, ... per CVE without gaps; several versions of one CVE inside
  one batch are numbered and chained in order.
* ``valid_from`` is the record's observed time (see :func:`messages.observed_at`), but never
  earlier than its predecessor's ``valid_from``: intervals ``[valid_from, valid_to)`` never
  overlap, so "as of T" has exactly one answer.  When a source's clock runs backwards the
  predecessor's interval becomes empty rather than the order of versions changing.
* ``out_of_order`` flags a record whose ``dateUpdated`` is older than the current
  version's.  It still becomes the current version: the Kafka order per key *is* the
  source's order (cvelistV5 history shows ``dateUpdated`` going backwards in real commits),
  so refusing it would freeze a CVE on stale content.
* REJECTED is a state like any other: a rejection is a new version, and so is a return
  to PUBLISHED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from workloads.common.records import DocumentKind
from workloads.store.changes import field_diff, summarise
from workloads.store.messages import Incoming


@dataclass(slots=True)
class Current:
    """The stored current version of a CVE (``text`` only loaded when the batch changes it)."""

    version: int
    sha256: str
    kind: DocumentKind
    date_updated: datetime | None
    valid_from: datetime
    text: str | None = None


@dataclass(slots=True)
class NewVersion:
    incoming: Incoming
    version: int
    valid_from: datetime
    valid_to: datetime | None
    out_of_order: bool
    changes: list[str]
    diff: list[dict[str, Any]] | None


@dataclass(slots=True)
class Plan:
    versions: list[NewVersion] = field(default_factory=list)
    closed: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    """Versions that were current before this batch: cve_id -> (version, new valid_to)."""
    current: dict[str, NewVersion] = field(default_factory=dict)
    """The last new version of each changed CVE: what its ``cves`` row becomes."""
    unchanged: int = 0


def _successor(inc: Incoming, previous: Current) -> tuple[datetime, bool, list[str], list[dict[str, Any]]]:
    valid_from = max(inc.observed_at, previous.valid_from)
    late = bool(inc.date_updated and previous.date_updated and inc.date_updated < previous.date_updated)
    if previous.text is None:  # its record could not be read back: still a version, without a diff
        return valid_from, late, ["other"], []
    old, new = orjson.loads(previous.text), inc.doc()
    return valid_from, late, summarise(old, new, previous.kind, inc.kind), field_diff(old, new)


def plan(batch: list[Incoming], current: dict[str, Current]) -> Plan:
    """Versions to append for ``batch`` given the stored ``current`` versions of its CVEs."""
    result = Plan()
    state = dict(current)
    for inc in batch:
        previous = state.get(inc.cve_id)
        if previous is not None and previous.sha256 == inc.sha256:
            result.unchanged += 1
            continue
        if previous is None:
            new = NewVersion(inc, 1, inc.observed_at, None, False, ["created"], None)
        else:
            valid_from, late, changes, diff = _successor(inc, previous)
            new = NewVersion(inc, previous.version + 1, valid_from, None, late, changes, diff)
            if inc.cve_id in result.current:
                result.current[inc.cve_id].valid_to = valid_from
            else:
                result.closed[inc.cve_id] = (previous.version, valid_from)
        result.versions.append(new)
        result.current[inc.cve_id] = new
        state[inc.cve_id] = Current(
            new.version, inc.sha256, inc.kind, inc.date_updated, new.valid_from, inc.text
        )
    return result


def needs_previous_doc(batch: list[Incoming], current: dict[str, Current]) -> set[str]:
    """CVEs whose stored record must be loaded to diff against: those whose first record in
    the batch differs from the stored current version (later ones diff against the batch)."""
    first: dict[str, str] = {}
    for inc in batch:
        first.setdefault(inc.cve_id, inc.sha256)
    return {cve for cve, sha in first.items() if cve in current and current[cve].sha256 != sha}
