"""The API's record path takes a CVE id in any case, but only an ASCII, whole one (issue 12)."""

from __future__ import annotations

import pytest

from tests.support.hostile import LOOKALIKE_IDS
from workloads.rag.api import _cve_id

LOOKALIKES = [x for x in LOOKALIKE_IDS if x != "cve-2099-1006"]  # lower case is the API's to accept


@pytest.mark.parametrize("value", LOOKALIKES)
def test_the_api_path_refuses_lookalikes(value: str) -> None:
    with pytest.raises(Exception, match="not a CVE id"):  # answered 400 not_a_cve_id
        _cve_id(value)
    assert _cve_id("cve-2099-1006") == "CVE-2099-1006"
