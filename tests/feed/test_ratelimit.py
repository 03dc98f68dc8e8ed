"""The rolling-window limiter, driven by a fake clock (no real sleeping)."""

from __future__ import annotations

import pytest

from workloads.feed.ratelimit import RollingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_allows_limit_then_waits_for_the_oldest_to_leave_the_window() -> None:
    clock = Clock()
    limiter = RollingWindowLimiter(5, 30.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert limiter.acquire() == 0.0
        clock.now += 1.0
    # five requests at t=0..4; the sixth (t=5) must wait until t=30
    assert limiter.acquire() == pytest.approx(25.0)
    assert clock.now == pytest.approx(1030.0)


def test_never_more_than_limit_in_any_window() -> None:
    clock = Clock()
    limiter = RollingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for step in range(40):
        limiter.acquire()
        stamps.append(clock.now)
        clock.now += 0.7 * (step % 4)
    for index, stamp in enumerate(stamps):
        in_window = [s for s in stamps[: index + 1] if stamp - s < 10.0 - 1e-6]  # µs slack for float rounding
        assert len(in_window) <= 3


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        RollingWindowLimiter(0, 30.0)
