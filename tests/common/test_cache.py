"""A refreshed value loads on its first use whatever the machine's uptime, then once per ttl.

The clock is injected (``0.0`` is a machine booted a moment ago, ``1e9`` a long-lived one):
with the real ``time.monotonic()`` the outcome would depend on when the machine started.
"""

from __future__ import annotations

import pytest

from workloads.common.cache import Refreshed

UPTIMES = [0.0, 5.0, 1e9]


@pytest.mark.parametrize("uptime", UPTIMES)
def test_loads_on_first_use_then_after_the_ttl(uptime: float) -> None:
    now = [uptime]
    loads: list[float] = []

    def load() -> int:
        loads.append(now[0])
        return len(loads)

    cache = Refreshed(load, ttl=600, clock=lambda: now[0])
    assert loads == []  # nothing is read before it is needed
    assert cache.get() == 1 and cache.get() == 1
    now[0] += 600
    assert cache.get() == 1
    now[0] += 0.5
    assert cache.get() == 2 and loads == [uptime, uptime + 600.5]


@pytest.mark.parametrize("uptime", UPTIMES)
def test_a_failed_load_is_retried_on_the_next_call(uptime: float) -> None:
    now = [uptime]
    answers: list[int | Exception] = [RuntimeError("store down"), 7, RuntimeError("store down"), 8]

    def load() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = Refreshed(load, ttl=60, clock=lambda: now[0])
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == 7  # no ttl to wait out after a failure
    now[0] += 61
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == 8
