"""Pure parts of retrieval and indexing: reading a question, fusing lists, building documents."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workloads.index.documents import CHUNK_CHARS, CveRow, build, chunk_ids, cve_of, split_text
from workloads.rag.entities import _entities, ngrams
from workloads.rag.filter_clauses import vector_filter
from workloads.rag.retrieval import fuse, terms
from workloads.rag.understand import cve_ids, filters_from_question
from workloads.store import products
from workloads.store.search import Filters


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("critical vulnerabilities in nginx", Filters(min_severity="CRITICAL")),
        ("high severity bugs", Filters(min_severity="HIGH")),
        ("high CPU usage in CVE-2021-1234", Filters()),
        (
            "what was published in 2023 about openssl",
            Filters(published_from=date(2023, 1, 1), published_to=date(2024, 1, 1)),
        ),
        ("flaws since 2021", Filters(published_from=date(2021, 1, 1))),
        ("is CVE-2023-4863 in the KEV catalog?", Filters(kev=True)),
        ("actively exploited Fortinet bugs", Filters(kev=True)),
        ("tell me about CVE-2019-0708", Filters()),
    ],
)
def test_only_clear_phrasings_become_filters(question: str, expected: Filters) -> None:
    assert filters_from_question(question) == expected


def test_ids_are_found_in_order_without_repeats() -> None:
    assert cve_ids("cve-2024-3400 vs CVE-2023-46805 and CVE-2024-3400, CVE-2024-10000001") == [
        "CVE-2024-3400",
        "CVE-2023-46805",
        "CVE-2024-10000001",
    ]


def test_explicit_filters_win_over_the_question() -> None:
    merged = Filters(kev=False).merged(Filters(kev=True, min_severity="HIGH"))
    assert merged == Filters(kev=False, min_severity="HIGH")
    assert vector_filter(merged) == {"$and": [{"severity": {"$in": ["HIGH", "CRITICAL"]}}, {"kev": False}]}


def test_fusion_puts_named_ids_first_and_rewards_agreement() -> None:
    scores = fuse([["A", "B", "C"], ["C", "B", "D"]], exact=["Z"])
    ranked = sorted(scores, key=lambda c: -scores[c])
    assert ranked[0] == "Z" and ranked[1] in ("B", "C") and ranked[-1] == "D"


def test_name_matching_ignores_generic_words_and_needs_a_clear_pair() -> None:
    assert "server" not in ngrams("Which server vulnerabilities?") and "apache tomcat" in ngrams(
        "Apache Tomcat bugs"
    )
    words = products.build(
        [
            ("C1", "cna", "Apache", "Tomcat"),
            ("C2", "cna", "Apache", "HTTP Server"),
            ("C3", "cna", "Cisco", "IOS XE"),
        ]
    )
    found = _entities("Apache Tomcat bugs", words, ["apache"], [("apache", "tomcat")])
    assert found.pair == ("apache", "tomcat") and found.exact == {"C1"} and found.covered
    assert _entities("ios xe bugs", words, [], [("cisco", "ios xe")]).pair is None  # no vendor named
    assert terms("What is CVE-2024-3400 in PAN-OS?") == ["PAN-OS"]


def _row(description: str, updated: str = "x") -> CveRow:
    return CveRow(
        "CVE-2024-0001",
        "PUBLISHED",
        "Overflow in Foo",
        description,
        9.8,
        "CRITICAL",
        ["CWE-787"],
        ["acme:foo"],
        ["acme"],
        ["foo"],
        date(2024, 2, 1),
        datetime(2024, 1, 5, tzinfo=UTC),
    )


def test_document_text_holds_the_facts_and_chunks_stay_bounded() -> None:
    doc = build(_row("A heap overflow. " * 200), "m")
    assert (
        doc.texts[0].startswith("CVE-2024-0001: Overflow in Foo")
        and "Severity: CRITICAL (CVSS 9.8)" in doc.texts[0]
    )
    assert "Known exploited (CISA KEV) since 2024-02-01" in doc.texts[0] and len(doc.texts) > 2
    assert all(len(t) <= CHUNK_CHARS + 400 for t in doc.texts)
    assert (
        doc.chunk_ids[:2] == ["CVE-2024-0001", "CVE-2024-0001#1"]
        and cve_of("CVE-2024-0001#7") == "CVE-2024-0001"
    )
    assert doc.metadata["kev"] is True and doc.metadata["year"] == 2024 and "severity" in doc.metadata
    assert build(_row("same"), "m").content_hash == build(_row("same"), "m").content_hash
    assert build(_row("same"), "m").content_hash != build(_row("same"), "other-model").content_hash
    assert split_text("x" * 2500, 1000) == ["x" * 1000, "x" * 1000, "x" * 500] and chunk_ids("C", 0) == []


@pytest.mark.parametrize(
    ("published_to", "last_year"),
    [(date(2024, 1, 1), 2023), (date(2024, 3, 1), 2024), (date(1, 1, 1), 0), (date(9999, 12, 31), 9999)],
)
def test_vector_year_bound_of_an_exclusive_date(published_to: date, last_year: int) -> None:
    """Dates at the ends of the calendar (``0001-01-01`` raised OverflowError, a 500) filter too."""
    assert vector_filter(Filters(published_to=published_to)) == {"year": {"$lte": last_year}}
