"""What a machine may lack: a skip on a laptop, a failure in CI.

Some tests need tools a laptop may not have (a Docker engine, buildah, Chromium, a Go
toolchain).  There they skip and say what is missing.  CI (``CI=true``) runs ``.ci/run``,
which installs every one of them, so a skip there would only hide the main path: it fails
instead, with the same reason.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"


def lacks(reason: str) -> NoReturn:
    """Skip with ``reason``; in CI fail with it."""
    if IN_CI:
        pytest.fail(
            f"{reason} (CI=true: .ci/run installs what this needs, so this is not skipped)", pytrace=False
        )
    pytest.skip(reason)
