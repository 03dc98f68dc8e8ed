"""Fixtures of the store tests: a fresh schema per test and a fresh topic per test.

Schemas and topics get random names, so tests never see each other's data and a crashed
earlier run leaves nothing that changes a later result.  Schemas are dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.scratch import create_topic, drop_schema, unique
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate
from workloads.store.settings import ConsumeSettings


@pytest.fixture
def store(postgres: Any) -> Iterator[StoreTarget]:
    """A migrated, empty store in its own schema."""
    target = StoreTarget(postgres.dsn, unique("store"))
    migrate(target)
    yield target
    drop_schema(postgres.dsn, target.schema)


@pytest.fixture
def topic(kafka: Any) -> str:
    """A fresh records topic (3 partitions) with its dead-letter topic."""
    return create_topic(kafka.bootstrap)


def settings(kafka: Any, topic: str, group: str | None = None, **extra: Any) -> ConsumeSettings:
    return ConsumeSettings(
        bootstrap=kafka.bootstrap,
        topic=topic,
        group_id=group or unique("group"),
        until_idle=extra.pop("until_idle", 4.0),
        progress_every=30.0,
        **extra,
    )
