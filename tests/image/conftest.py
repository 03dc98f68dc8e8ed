"""The built image, shared by the tests of this directory; skipped where it cannot be built or run."""

from __future__ import annotations

import pytest

from devstack import image
from tests.image import bundle
from tests.support.machine import lacks


@pytest.fixture(scope="session")
def built() -> image.Image:
    """The working tree's image: from the cache, else built (``make image`` builds it beforehand)."""
    if (found := image.cached()) is not None:
        return found
    if (reason := image.unavailable()) is not None:
        lacks(f"the cverag image cannot be built here: {reason}")
    return image.build()


@pytest.fixture(scope="session")
def unpacked(built: image.Image) -> bundle.Unpacked:
    if missing := bundle.missing_tools():
        lacks(f"cannot run the image without a kubelet: {', '.join(missing)} not installed")
    return bundle.unpack(built)
