"""Fixtures of the feed tests: a started fake GitHub releases API and quick retry policies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_releases import FakeGitHubReleases
from workloads.feed.fetch import RetryPolicy

QUICK = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, max_wait=10.0)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHubReleases]:
    fake = FakeGitHubReleases(tmp_path / "assets")
    fake.workdir.mkdir()
    fake.start()
    yield fake
    fake.stop()
