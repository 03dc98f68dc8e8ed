"""What changed between two versions of a CVE: a summary by topic and field-level diffs.

The summary names the parts analysts ask about ("was CVSS rescored? was it added to
KEV?"): ``state``, ``title``, ``description``, ``cvss``, ``cwe``, ``affected``,
``references``, ``kev``, ``ssvc``, ``data_version``, and ``other`` for anything outside
those (credits, solutions, timelines...).  Timestamps that change on every edit
(``dateUpdated``, ``providerMetadata``) are not changes by themselves.  The first version
of a CVE has the summary ``["created"]``.

The field-level diff is a list of ``{"op", "path", "old", "new"}`` with JSON-Pointer
paths.  It is hand-rolled rather than RFC 6902 JSON Patch (jsonpatch) because a history
view needs the *old* value too, which a patch omits.
"""

from __future__ import annotations

from typing import Any

from workloads.common.records import DocumentKind
from workloads.store import fields as f

SECTIONS = (
    "state",
    "title",
    "description",
    "cvss",
    "cwe",
    "affected",
    "references",
    "kev",
    "ssvc",
    "data_version",
)
MAX_DIFF_ENTRIES = 500
_CNA_SECTION_KEYS = {
    "title": ("title",),
    "description": ("descriptions", "rejectedReasons"),
    "cvss": ("metrics",),
    "cwe": ("problemTypes",),
    "affected": ("affected", "cpeApplicability"),
    "references": ("references",),
}
_ADP_SECTION_KEYS = {"description": ("descriptions",), "cwe": ("problemTypes",), "affected": ("affected",)}
_ADP_SECTION_KEYS |= {"references": ("references",)}
_VOLATILE_META = ("state", "dateUpdated")


def _metric_topic(metric: dict[str, Any]) -> str:
    other = f.as_dict(metric.get("other"))
    return {"kev": "kev", "ssvc": "ssvc"}.get(str(other.get("type")), "cvss")


def cve5_sections(doc: dict[str, Any]) -> dict[str, Any]:
    """Split a CVE 5 record into the summary topics; whatever is left over is ``other``."""
    parts: dict[str, Any] = {name: [] for name in (*SECTIONS, "other")}
    meta = f.as_dict(doc.get("cveMetadata"))
    parts["state"] = meta.get("state")
    parts["data_version"] = doc.get("dataVersion")
    containers = f.as_dict(doc.get("containers"))
    rest: dict[str, Any] = {
        k: v for k, v in doc.items() if k not in ("containers", "cveMetadata", "dataVersion")
    }
    rest["cveMetadata"] = {k: v for k, v in meta.items() if k not in _VOLATILE_META}
    cna = f.as_dict(containers.get("cna"))
    for container in [cna, *f.dicts(containers.get("adp"))]:
        keys = _CNA_SECTION_KEYS if container is cna else _ADP_SECTION_KEYS
        for section, names in keys.items():
            parts[section].append([container.get(n) for n in names])
        for metric in f.dicts(container.get("metrics")):
            parts[_metric_topic(metric)].append(metric)
        claimed = {n for names in keys.values() for n in names} | {"metrics", "providerMetadata"}
        parts["other"].append({k: v for k, v in container.items() if k not in claimed})
    parts["other"].append(rest)
    return parts


def nvd_sections(doc: dict[str, Any]) -> dict[str, Any]:
    cve = dict(f.as_dict(doc.get("cve")))
    take = {
        "state": "vulnStatus",
        "description": "descriptions",
        "cvss": "metrics",
        "cwe": "weaknesses",
        "affected": "configurations",
        "references": "references",
        "kev": "cisaExploitAdd",
        "title": "cisaVulnerabilityName",
    }
    parts: dict[str, Any] = {section: cve.pop(key, None) for section, key in take.items()}
    cve.pop("lastModified", None)
    parts["other"] = [cve, {k: v for k, v in doc.items() if k != "cve"}]
    return parts


def sections(doc: dict[str, Any], kind: DocumentKind) -> dict[str, Any]:
    return nvd_sections(doc) if kind is DocumentKind.NVD_ITEM else cve5_sections(doc)


def summarise(old: Any, new: Any, old_kind: DocumentKind, new_kind: DocumentKind) -> list[str]:
    """Topics that differ between ``old`` and ``new``, in a fixed order; ``["other"]`` at least.

    Each side is split by its own kind, so a CVE whose source switched from cvelistV5 to
    the NVD still gets a meaningful (if large) summary rather than an error."""
    before, after = sections(old, old_kind), sections(new, new_kind)
    changed = [name for name in (*SECTIONS, "other") if before.get(name) != after.get(name)]
    return changed or ["other"]


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _walk(old: Any, new: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            if key not in new:
                out.append({"op": "remove", "path": _pointer(path, key), "old": old[key]})
            elif key not in old:
                out.append({"op": "add", "path": _pointer(path, key), "new": new[key]})
            elif old[key] != new[key]:
                _walk(old[key], new[key], _pointer(path, key), out)
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(min(len(old), len(new))):
            if old[index] != new[index]:
                _walk(old[index], new[index], _pointer(path, index), out)
        out.extend(
            {"op": "remove", "path": _pointer(path, i), "old": old[i]} for i in range(len(new), len(old))
        )
        out.extend({"op": "add", "path": _pointer(path, i), "new": new[i]} for i in range(len(old), len(new)))
    else:
        out.append({"op": "replace", "path": path, "old": old, "new": new})


def field_diff(old: Any, new: Any) -> list[dict[str, Any]]:
    """Leaf-level differences, sorted by path; capped so one huge rewrite cannot bloat a row."""
    out: list[dict[str, Any]] = []
    _walk(old, new, "", out)
    out.sort(key=lambda entry: str(entry["path"]))
    if len(out) > MAX_DIFF_ENTRIES:
        dropped = len(out) - MAX_DIFF_ENTRIES
        out = [*out[:MAX_DIFF_ENTRIES], {"op": "truncated", "path": "", "omitted": dropped}]
    return out
