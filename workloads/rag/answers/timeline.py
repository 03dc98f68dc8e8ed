"""Answers from the version log: a field's course over the versions, the last update, the
KEV addition.  Every line cites the version it reads (``CVE-…@v3``, with its valid_from).

Values are read from each version's record through the store's normaliser
(:func:`~workloads.store.history_query.projected`), so "the CVSS of v2" is exactly what the
store's columns held while v2 was current; consecutive versions with the same value are one
step, so the answer lists changes, not every edit of the record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from workloads.rag.records import version_ranges
from workloads.store import fields as f
from workloads.store.history_query import VersionDiff, projected
from workloads.store.models import CveVersion
from workloads.store.projection import CVSS_VERSIONS

MAX_STEPS = 12
MAX_DIFF_LINES = 12
_LABELS = {"v40": "CVSS 4.0", "v31": "CVSS 3.1", "v30": "CVSS 3.0", "v20": "CVSS 2.0"}
TOPIC_NAMES = {
    "cvss": "CVSS",
    "cwe": "CWE",
    "affected": "affected versions",
    "description": "description",
    "references": "references",
    "state": "state",
    "ssvc": "CISA-ADP SSVC",
    "kev": "KEV entry",
    "title": "title",
}


def ref(version: CveVersion) -> str:
    return f"{version.cve_id}@v{version.version}"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def cited(version: CveVersion) -> str:
    return f"{ref(version)} (valid from {when(version.valid_from)})"


def _cvss(row: dict[str, Any], record: dict[str, Any]) -> str:
    parts = []
    for v in CVSS_VERSIONS:
        if row[f"cvss_{v}_score"] is not None or row[f"cvss_{v}_vector"]:
            score = row[f"cvss_{v}_score"]
            shown = f"{score:.1f}" if score is not None else "no score"
            parts.append(
                f"{_LABELS[v]} {shown} {row[f'cvss_{v}_severity'] or ''} {row[f'cvss_{v}_vector'] or ''}"
            )
    return "; ".join(" ".join(p.split()) for p in parts) or "no CVSS"


def _references(record: dict[str, Any]) -> str:
    cna = f.as_dict(f.as_dict(record.get("containers")).get("cna"))
    urls = [str(r.get("url")) for r in f.dicts(cna.get("references"))]
    return f"{len(urls)} reference(s)" + (f", the last {urls[-1]}" if urls else "")


def _ssvc(row: dict[str, Any], record: dict[str, Any]) -> str:
    names = ("exploitation", "automatable", "technical_impact")
    given = [f"{n.replace('_', ' ')} {row['ssvc_' + n]}" for n in names if row["ssvc_" + n]]
    return ", ".join(given) or "no SSVC decision"


_READERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "cvss": _cvss,
    "cwe": lambda row, record: ", ".join(row["cwe_ids"]) or "no CWE",
    "affected": lambda row, record: " | ".join(version_ranges(record)[:6]) or "no affected versions",
    "description": lambda row, record: repr((row["description"] or "")[:300]),
    "references": lambda row, record: _references(record),
    "state": lambda row, record: row["state"],
    "ssvc": _ssvc,
    "kev": lambda row, record: f"added {row['kev_date_added']}" if row["kev_date_added"] else "no KEV entry",
    "title": lambda row, record: repr(row["title"]) if row["title"] else "no title",
}


def value(topic: str, version: CveVersion) -> str:
    return _READERS[topic](projected(version), version.record or {})


def course(chain: list[CveVersion], topic: str) -> list[tuple[CveVersion, str]]:
    """``(version, value)`` where the value of ``topic`` is new, oldest first."""
    steps: list[tuple[CveVersion, str]] = []
    for version in chain:
        shown = value(topic, version)
        if not steps or steps[-1][1] != shown:
            steps.append((version, shown))
    return steps


def topic_lines(chain: list[CveVersion], topic: str) -> tuple[list[str], list[CveVersion]]:
    """How ``topic`` went over the stored versions (``chain`` with records, oldest first)."""
    steps = course(chain, topic)
    name, cve = TOPIC_NAMES[topic], chain[0].cve_id
    if len(steps) == 1:
        head = f"The {name} of {cve} did not change over its {len(chain)} stored version(s): {steps[0][1]}"
        return [head + f" (since {cited(steps[0][0])})."], [steps[0][0]]
    lines = [f"The {name} of {cve} changed {len(steps) - 1} time(s) over its {len(chain)} stored versions:"]
    shown = steps if len(steps) <= MAX_STEPS else [steps[0], *steps[-(MAX_STEPS - 1) :]]
    if len(shown) < len(steps):
        lines.append(f"  ({len(steps) - len(shown)} earlier step(s) not shown)")
    lines.extend(f"  {cited(v)}: {text}" for v, text in shown)
    return lines, [v for v, _ in shown]


def changes_lines(chain: list[CveVersion]) -> tuple[list[str], list[CveVersion]]:
    """Every version and what it changed: the answer to "how did X change" naming no field."""
    lines = [f"{chain[0].cve_id} has {len(chain)} stored version(s):"]
    shown = chain if len(chain) <= MAX_STEPS else [chain[0], *chain[-(MAX_STEPS - 1) :]]
    if len(shown) < len(chain):
        lines.append(f"  ({len(chain) - len(shown)} versions between v1 and v{shown[1].version} not shown)")
    lines.extend(f"  {cited(v)}: {', '.join(_topic_list(v.changes))}" for v in shown)
    return lines, shown


def _topic_list(changes: list[str]) -> list[str]:
    return [TOPIC_NAMES.get(c, c) for c in changes] or ["other"]


def _entry(entry: dict[str, Any]) -> str:
    if entry.get("op") == "truncated":
        return f"    ... {entry.get('omitted')} more field change(s)"

    def short(item: Any) -> str:
        text = item if isinstance(item, str) else repr(item)
        return text if len(text) <= 80 else text[:77] + "..."

    op, path = entry.get("op"), entry.get("path")
    if op == "replace":
        return f"    {path}: {short(entry.get('old'))} -> {short(entry.get('new'))}"
    return f"    {op} {path}: {short(entry.get('new' if op == 'add' else 'old'))}"


def diff_lines(found: VersionDiff) -> tuple[list[str], list[CveVersion]]:
    """What differs between two named versions (the store's own diff of their records)."""
    old, new = found.old, found.new
    topics = ", ".join(_topic_list(found.changes)) if found.changes else "nothing"
    lines = [f"Between {cited(old)} and {cited(new)} of {old.cve_id} the record changed: {topics}."]
    diff = [e for e in found.diff if not str(e.get("path", "")).endswith("/dateUpdated")]
    if diff:
        lines.append(f"  Field changes ({len(diff)}):")
        lines.extend(_entry(e) for e in diff[:MAX_DIFF_LINES])
        if len(diff) > MAX_DIFF_LINES:
            lines.append(f"    ... {len(diff) - MAX_DIFF_LINES} more")
    return lines, [old, new]


def last_update_lines(chain: list[CveVersion]) -> tuple[list[str], list[CveVersion]]:
    last = chain[-1]
    if len(chain) == 1:
        return [f"{cited(last)} is the only stored version of {last.cve_id}: it has not changed since."], [
            last
        ]
    previous = chain[-2]
    topics = ", ".join(_topic_list(last.changes))
    lines = [
        f"The last update of {last.cve_id} is {cited(last)}, after {cited(previous)}; it changed: {topics}."
    ]
    diff = [e for e in (last.diff or []) if not str(e.get("path", "")).endswith("/dateUpdated")]
    if diff:
        lines.append(f"  Field changes ({len(diff)}):")
        lines.extend(_entry(e) for e in diff[:MAX_DIFF_LINES])
        if len(diff) > MAX_DIFF_LINES:
            lines.append(f"    ... {len(diff) - MAX_DIFF_LINES} more")
    return lines, [previous, last]


def kev_lines(
    chain: list[CveVersion], catalog: dict[str, Any] | None, kev_version: str | None
) -> tuple[list[str], list[CveVersion]]:
    """When the CVE entered CISA's KEV catalog, and the version whose record first said so."""
    cve = chain[0].cve_id
    first = next((v for v in chain if projected(v)["kev_date_added"]), None)
    lines = []
    if catalog and catalog.get("date_added"):
        lines.append(
            f"{cve} was added to CISA's Known Exploited Vulnerabilities catalog on {catalog['date_added']}"
            + (f" (due {catalog['due_date']})" if catalog.get("due_date") else "")
            + f" according to the KEV catalog{f' version {kev_version}' if kev_version else ''}."
        )
    if first is not None:
        added = projected(first)["kev_date_added"]
        lines.append(f"Its record first carried CISA-ADP's KEV entry (dateAdded {added}) in {cited(first)}.")
    if not lines:
        where = f"the KEV catalog{f' version {kev_version}' if kev_version else ''}"
        lines.append(
            f"{cve} is not in {where}, and none of its {len(chain)} stored versions has a KEV entry."
        )
    return lines, [first] if first else [chain[-1]]
