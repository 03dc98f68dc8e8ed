"""Throttled work runs the first time whatever the machine's uptime, then once per interval.

The clock is injected: ``time.monotonic()`` counts from boot, so a test that used the real
clock would pass or fail depending on how long ago the machine (or CI node) started.
"""

from __future__ import annotations

import io
import json

import pytest

from workloads.common.pacing import Every
from workloads.feed.pipeline import Progress
from workloads.feed.producer import Deliveries
from workloads.store.progress import Progress as StoreProgress


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# 0.0 and 5.0 stand for a machine booted less than an interval ago; 1e9 for a long-lived one.
UPTIMES = [0.0, 5.0, 1e9]


@pytest.mark.parametrize("uptime", UPTIMES)
def test_first_call_is_due_then_once_per_interval(uptime: float) -> None:
    clock = FakeClock(uptime)
    every = Every(60, clock)
    assert every.due()
    assert not every.due()
    clock.now += 59.9
    assert not every.due()
    clock.now += 0.1
    assert every.due()


class _Counts:
    counts = Deliveries(published=1, dead_lettered=0)


@pytest.mark.parametrize("uptime", UPTIMES)
def test_feed_prints_its_first_progress_line_on_a_fresh_machine(uptime: float) -> None:
    clock, out = FakeClock(uptime), io.StringIO()
    progress = Progress(interval=3600, out=out, started=uptime, clock=clock)
    progress.maybe_report(1, _Counts(), None)  # type: ignore[arg-type]
    clock.now += 10
    progress.maybe_report(2, _Counts(), None)  # type: ignore[arg-type]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["read"] for line in lines] == [1]


@pytest.mark.parametrize("uptime", UPTIMES)
def test_store_prints_its_first_progress_line_on_a_fresh_machine(uptime: float) -> None:
    clock, out = FakeClock(uptime), io.StringIO()
    progress = StoreProgress(every=3600, out=out, clock=clock)
    progress.tick()
    progress.tick()
    clock.now += 3600
    progress.tick()
    assert len(out.getvalue().splitlines()) == 2
