"""Request and response bodies of the API: the contract other tooling relies on.

Requests are strict about types (``"top_k": "5"`` is an error, not a 5) and reject unknown
fields, so a typo in a filter name fails loudly instead of silently searching everything.
Text may not hold NUL characters, which PostgreSQL text cannot store (they were a 500).
What the models refuse, the OpenAPI document says, so generated clients and fuzzers agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from workloads.rag.coverage import IndexCoverage
from workloads.store.search import Filters

Severity = Literal["NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL", "none", "low", "medium", "high", "critical"]
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _whole(value: object) -> object:
    """``16.0`` is the integer 16 in JSON (and JSON Schema); ``"16"`` stays an error."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _iso_day(value: object) -> object:
    """A date is an ISO ``YYYY-MM-DD`` string (lax parsing would take ``0`` for 1970-01-01)."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


_AS_OF_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?)?$"
)


def as_of_moment(value: str) -> datetime:
    """An ``as_of`` as a time: a date is the end of that day (UTC), so "as of 2024-05-01"
    includes that day's changes; a date-time without a zone is UTC."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time.max, tzinfo=UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _valid_as_of(value: str) -> str:
    try:
        as_of_moment(value)
    except ValueError as exc:
        raise ValueError(f"must be an ISO-8601 date (YYYY-MM-DD) or date-time: {exc}") from None
    return value


AsOf = Annotated[
    str,
    AfterValidator(_valid_as_of),
    Field(
        pattern=_AS_OF_PATTERN,
        max_length=40,
        description="answer from the store as it was then: an ISO-8601 date (its end, UTC) or date-time",
    ),
]

# What the pattern says for clients: no NUL, and something besides the whitespace pydantic strips
# (Unicode White_Space), since a blank string fails min_length once stripped.
_SPACE = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
Text = Annotated[str, AfterValidator(_without_nul), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
Whole = Annotated[int, BeforeValidator(_whole)]
Day = Annotated[date, BeforeValidator(_iso_day)]


class RequestFilters(BaseModel):
    """Narrows a search: every filter given must hold."""

    # The body as a client spells it; to_filters() makes the one Filters every search uses.

    model_config = _STRICT
    vendor: Text | None = Field(default=None, min_length=1, max_length=200, strict=True)
    product: Text | None = Field(default=None, min_length=1, max_length=200, strict=True)
    severity: Severity | None = Field(default=None, description="minimum severity")
    min_score: float | None = Field(default=None, ge=0.0, le=10.0, strict=True)
    cwe: str | None = Field(default=None, pattern=r"^([Cc][Ww][Ee]-)?[0-9]{1,5}$", strict=True)
    kev: bool | None = Field(
        default=None, strict=True, description="only (true) or never (false) known exploited"
    )
    # Constraints before the validator, or they reach the JSON schema as "ge"/"le" (pydantic).
    year: Annotated[int, Field(ge=1988, le=2100), BeforeValidator(_whole)] | None = Field(
        default=None, strict=True, description="year of publication"
    )
    published_from: Day | None = None
    published_to: Day | None = Field(default=None, description="exclusive")

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
    query: Text = Field(min_length=1, max_length=2000, strict=True)
    top_k: Whole = Field(default=10, ge=1, le=50, strict=True)
    filters: RequestFilters = Field(default_factory=lambda: RequestFilters())
    as_of: AsOf | None = None


class SearchResult(BaseModel):
    cve_id: str
    score: float
    title: str | None
    severity: str | None
    cvss: float | None
    published: date | None
    kev: bool
    matched: list[Literal["id", "product", "full_text", "vector"]] = Field(
        default_factory=list,
        description="why it was found: the id was named, it is a CVE of the product named, full text, vector",
    )


_COVERAGE = "how much of the store the vector index holds (null: the store could not say)"


class SearchResponse(BaseModel):
    results: list[SearchResult]
    index: IndexCoverage | None = Field(default=None, description=_COVERAGE)


class AskRequest(BaseModel):
    model_config = _STRICT
    question: Text = Field(min_length=1, max_length=2000, strict=True)
    top_k: Whole = Field(default=5, ge=1, le=20, strict=True)
    stream: bool = Field(default=False, strict=True, description="answer as server-sent events")
    as_of: AsOf | None = None


class Citation(BaseModel):
    cve_id: str
    title: str | None
    url: str
    version: int | None = Field(default=None, description="the stored version the answer read")
    valid_from: datetime | None = Field(default=None, description="when that version became valid")
    ref: str | None = Field(default=None, description="the version cited: CVE-YYYY-NNNN@v<version>")


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    model: str
    index: IndexCoverage | None = Field(default=None, description=_COVERAGE)


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="per dependency (store, index): 'ok' or 'failing: <error>'")


class AskEvent(BaseModel):
    """One server-sent event of a streamed answer ("stream": true): one citations event, then
    delta events (pieces of the text), then one done event."""

    event: Literal["citations", "delta", "done"]
    data: str = Field(
        description='JSON: {"citations": [Citation]} | {"text": "<piece>"} | the whole AskResponse',
        json_schema_extra={"contentMediaType": "application/json"},
    )
