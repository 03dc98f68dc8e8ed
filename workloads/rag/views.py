"""The JSON shapes of a record, its history and a diff, shared by the HTTP routes and the MCP
tools (:mod:`workloads.rag.agent_tools`), so an agent reads exactly what ``/v1`` answers."""

from __future__ import annotations

from typing import Any

from workloads.rag.records import CveFacts
from workloads.store.history_query import VersionDiff
from workloads.store.models import CveVersion

VERSION_FIELDS = (
    "version",
    "state",
    "valid_from",
    "valid_to",
    "date_updated",
    "out_of_order",
    "changes",
    "diff",
    "source",
    "release",
    "ingested_at",
)


def record_view(facts: CveFacts, record: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/cves/{id}``: the current row, its enrichments and the record itself."""
    return {
        **facts.fields,
        "cvss": facts.cvss,
        "cwe": facts.cwe,
        "assessments": facts.assessments,
        "kev": facts.kev,
        "epss": facts.epss,
        "affected": facts.affected,
        "url": facts.url,
        "record": record,
    }


def history_view(versions: list[CveVersion]) -> dict[str, Any]:
    """``GET /v1/cves/{id}/history``: every version, oldest first, with what each changed."""
    return {
        "cve_id": versions[0].cve_id,
        "versions": [{f: getattr(v, f) for f in VERSION_FIELDS} for v in versions],
    }


def version_side(version: CveVersion) -> dict[str, Any]:
    """One end of a diff, named the way citations name a version (``CVE-…@v3``)."""
    return {
        "version": version.version,
        "ref": f"{version.cve_id}@v{version.version}",
        "state": version.state,
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "date_updated": version.date_updated,
    }


def diff_view(found: VersionDiff) -> dict[str, Any]:
    """``GET /v1/cves/{id}/diff``: the topics and field-level entries between two versions."""
    return {
        "cve_id": found.new.cve_id,
        "from": version_side(found.old),
        "to": version_side(found.new),
        "changes": found.changes,
        "diff": found.diff,
    }
