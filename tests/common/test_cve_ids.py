"""One ASCII, full-match definition of a CVE id, used by the feed, the store and the API (issue 12).

``^CVE-\\d{4}-\\d{4,}$`` accepted other scripts' digits (``\\d`` is Unicode) and a trailing
newline (``$`` matches before one), so look-alike ids were stored, searchable and cited.
"""

from __future__ import annotations

import pytest

from tests.support.hostile import LOOKALIKE_IDS
from workloads.common.records import is_cve_id
from workloads.rag.retrieval import conditions_free
from workloads.rag.understand import cve_ids


@pytest.mark.parametrize("value", ["CVE-2099-1009", "CVE-1999-0001", "CVE-2024-10000001"])
def test_real_ids_match(value: str) -> None:
    assert is_cve_id(value)


@pytest.mark.parametrize(
    "value", [*LOOKALIKE_IDS, "CVE-2099-100", "CVE-99-1234", "CVE-2099-1234 ", "", None, 12]
)
def test_lookalikes_do_not(value: object) -> None:
    assert not is_cve_id(value)


def test_questions_name_only_ascii_ids() -> None:
    fullwidth, arabic = LOOKALIKE_IDS[0], LOOKALIKE_IDS[2]
    question = f"Compare {fullwidth}, {arabic} and cve-2099-1010 with CVE-2099-10115\uff15 or CVE-2099-1011"
    assert cve_ids(question) == ["CVE-2099-1010", "CVE-2099-1011"]
    assert "CVE-2099-1010" not in conditions_free(question)
    assert fullwidth in conditions_free(question), "a look-alike is ordinary text, not an id"
