"""Prometheus metrics of the operator: reconciles, errors and durations per kind.

Exposed on ``/metrics`` by ``prometheus_client``'s own HTTP server (started by the kopf
startup handler), next to kopf's ``/healthz`` liveness endpoint.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("cverag_reconciles_total", "Reconciles run, by kind and outcome", ["kind", "outcome"])
DURATION = Histogram(
    "cverag_reconcile_duration_seconds",
    "Time spent in one reconcile",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# One series per custom resource and condition type (a handful per CR): what alerts such as
# "LLM not ready" read, since conditions are the operator's judgement of its children.
CONDITION = Gauge(
    "cverag_condition_status",
    "1 when the custom resource's condition is True, 0 when False or Unknown",
    ["kind", "namespace", "name", "condition"],
)

F = TypeVar("F", bound=Callable[..., Any])


def conditions_written(kind: str, namespace: str, name: str, conditions: Iterable[tuple[str, bool]]) -> None:
    """Record the conditions just written into a resource's status."""
    for condition, is_true in conditions:
        CONDITION.labels(kind, namespace, name, condition).set(1 if is_true else 0)


def instrumented(kind: str) -> Callable[[F], F]:
    """Count and time a handler; an exception counts as outcome ``error`` and is re-raised."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                result = fn(*args, **kwargs)
            except Exception:
                RECONCILES.labels(kind, "error").inc()
                raise
            finally:
                DURATION.labels(kind).observe(time.monotonic() - started)
            RECONCILES.labels(kind, "success").inc()
            return result

        return handler  # type: ignore[return-value]

    return wrap
