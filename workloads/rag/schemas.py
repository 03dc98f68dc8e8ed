"""Request and response bodies of the API: the contract other tooling relies on.

Requests are strict about types (``"top_k": "5"`` is an error, not a 5) and reject unknown
fields, so a typo in a filter name fails loudly instead of silently searching everything.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from workloads.store.search import Filters

Severity = Literal["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL", "none", "low", "medium", "high", "critical"]
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RequestFilters(BaseModel):
    """The ``filters`` of a ``/v1/search`` body, as a client spells them; :meth:`to_filters`
    turns them into the one :class:`~workloads.store.search.Filters` every search uses."""

    model_config = _STRICT
    vendor: str | None = Field(default=None, min_length=1, max_length=200, strict=True)
    product: str | None = Field(default=None, min_length=1, max_length=200, strict=True)
    severity: Severity | None = Field(default=None, description="minimum severity")
    min_score: float | None = Field(default=None, ge=0.0, le=10.0)
    cwe: str | None = Field(default=None, pattern=r"^(?i:cwe-)?\d{1,5}$")
    kev: bool | None = Field(
        default=None, strict=True, description="only (true) or never (false) known exploited"
    )
    year: int | None = Field(default=None, ge=1988, le=2100, strict=True, description="year of publication")
    published_from: date | None = None
    published_to: date | None = Field(default=None, description="exclusive")

    def to_filters(self) -> Filters:
        start, end = self.published_from, self.published_to
        if self.year is not None:
            start, end = (
                max(start or date(self.year, 1, 1), date(self.year, 1, 1)),
                min(end or date(self.year + 1, 1, 1), date(self.year + 1, 1, 1)),
            )
        return Filters(
            vendor=self.vendor,
            product=self.product,
            min_severity=self.severity.upper() if self.severity else None,
            min_score=self.min_score,
            cwe=self.cwe,
            kev=self.kev,
            published_from=start,
            published_to=end,
        )


class SearchRequest(BaseModel):
    model_config = _STRICT
    query: str = Field(min_length=1, max_length=2000, strict=True)
    top_k: int = Field(default=10, ge=1, le=50, strict=True)
    filters: RequestFilters = Field(default_factory=lambda: RequestFilters())


class SearchResult(BaseModel):
    cve_id: str
    score: float
    title: str | None
    severity: str | None
    cvss: float | None
    published: date | None
    kev: bool


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AskRequest(BaseModel):
    model_config = _STRICT
    question: str = Field(min_length=1, max_length=2000, strict=True)
    top_k: int = Field(default=5, ge=1, le=20, strict=True)
    stream: bool = Field(default=False, strict=True, description="answer as server-sent events")


class Citation(BaseModel):
    cve_id: str
    title: str | None
    url: str


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    model: str
