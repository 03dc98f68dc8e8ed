"""``/metrics`` for the data-plane programs that have no HTTP server of their own.

The store consumer, the index sync and the feed Job serve Prometheus' text format from
``prometheus_client``'s own HTTP thread on ``CVERAG_METRICS_PORT`` (the pod's ``metrics`` port,
which the chart's PodMonitor scrapes); unset, nothing listens, so tests and laptops running
several programs side by side never fight over a port.  The RAG API serves ``/metrics`` on its
own port and does not use this.

Counters the programs already keep for their summaries are read at scrape time by a
:class:`LiveCollector` rather than incremented per record: the hot paths pay nothing for
being observed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from pydantic import Field

from workloads.common.settings import ProgramSettings

log = logging.getLogger(__name__)


class MetricsSettings(ProgramSettings):
    """The one setting every metrics-serving program shares (mixed into its settings class)."""

    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port serving Prometheus /metrics (the pod's `metrics` port); unset: no metrics server.",
    )


class LiveCollector(Collector):
    """Metric families computed on each scrape by ``collect`` (from state the program keeps anyway)."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families exist only while their program object does."""
        return []

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self._collect())
        except Exception as exc:  # a scrape must never take the program down
            log.warning("metrics collection failed: %s: %s", type(exc).__name__, exc)
            return []


def serve(port: int | None, registry: CollectorRegistry = REGISTRY) -> Any:
    """Start the metrics thread on ``port`` (all addresses); None when no port is set.

    Returns the server, so a caller (or a test) can shut it down."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr="0.0.0.0", registry=registry)
    log.info("serving /metrics on port %d", port)
    return server


def watch(collect: Callable[[], Iterable[Metric]], registry: CollectorRegistry = REGISTRY) -> Collector:
    """Register a :class:`LiveCollector`; returns it for :func:`unwatch`."""
    collector = LiveCollector(collect)
    registry.register(collector)
    return collector


def unwatch(collector: Collector, registry: CollectorRegistry = REGISTRY) -> None:
    """Forget a collector (a program object that ended, e.g. one pass or one test's consumer)."""
    with contextlib.suppress(KeyError):
        registry.unregister(collector)


@contextlib.contextmanager
def serving(port: int, collect: Callable[[], Iterable[Metric]]) -> Iterator[None]:
    """``/metrics`` on ``port`` with ``collect``'s families while the block runs, then closed."""
    server = serve(port)
    collector = watch(collect)
    try:
        yield
    finally:
        unwatch(collector)
        server.shutdown()
        server.server_close()
