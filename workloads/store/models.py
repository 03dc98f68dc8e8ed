"""Typed results of the query API (what the RAG API and the CLI receive)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class CveVersion:
    """One stored version of a CVE: valid in source time ``[valid_from, valid_to)``."""

    cve_id: str
    version: int
    state: str
    kind: str
    sha256: str
    valid_from: datetime
    valid_to: datetime | None
    date_updated: datetime | None
    out_of_order: bool
    changes: list[str]
    diff: list[dict[str, Any]] | None
    ingested_at: datetime
    source: str | None
    release: str | None
    record: dict[str, Any] | None = None

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


@dataclass(frozen=True)
class SearchHit:
    cve_id: str
    state: str
    title: str | None
    description: str | None
    base_score: float | None
    base_severity: str | None
    date_published: datetime | None
    date_updated: datetime | None
    cwe_ids: list[str]
    vendors: list[str]
    products: list[str]
    kev_date_added: date | None
    epss: float | None
    epss_percentile: float | None
    rank: float


@dataclass(frozen=True)
class Snapshot:
    name: str
    seq: int
    taken_at: datetime
    note: str | None = None


@dataclass(frozen=True)
class StoreStats:
    records_by_state: dict[str, int]
    cves: int
    versions: int
    last_ingest_at: datetime | None
    schema_version: int
    enrichment: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "records_by_state": self.records_by_state,
            "cves": self.cves,
            "versions": self.versions,
            "last_ingest_at": self.last_ingest_at.isoformat() if self.last_ingest_at else None,
            "schema_version": self.schema_version,
            "enrichment": self.enrichment,
            "snapshots": self.snapshots,
        }
