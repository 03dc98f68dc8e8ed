"""Prometheus metrics of a feed Job (``python -m workloads.feed``), served while it runs.

A feed Job lives minutes, so it is scraped like any pod while it runs (the pod's ``metrics``
port, ``CVERAG_METRICS_PORT``, selected by the chart's PodMonitor) rather than pushed: the
stack has no Pushgateway, and Prometheus' own advice keeps one for jobs whose outcome must
survive them; here the outcome survives anyway, in the Job's JSON summary line (its log,
which Fluent Bit ships) and in the CveFeed's status the operator writes from it.

The families are read from the producer's delivery counts at scrape time, so producing
costs nothing more.  ``cverag_feed_release_info`` names what the Job publishes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from workloads.common import metrics_server
from workloads.feed.producer import RecordProducer


def families(producer: RecordProducer, source: str, release: str, started: float) -> Iterable[Metric]:
    counts = producer.counts
    records = CounterMetricFamily(
        "cverag_feed_records", "Records the broker confirmed, by outcome", labels=["outcome"]
    )
    for outcome, value in (
        ("published", counts.published),
        ("dead_lettered", counts.dead_lettered),
        ("failed", counts.failed),
    ):
        records.add_metric([outcome], value)
    yield records
    reasons = CounterMetricFamily(
        "cverag_feed_dead_lettered", "Records sent to the dead-letter topic, by reason", labels=["reason"]
    )
    for reason, value in sorted(counts.reasons.items()):
        reasons.add_metric([reason], value)
    yield reasons
    yield InfoMetricFamily(
        "cverag_feed_release", "What this feed Job publishes", {"source": source, "release": release}
    )
    start = GaugeMetricFamily("cverag_feed_start_time_seconds", "Unix time the feed Job started")
    start.add_metric([], started)
    yield start


@contextlib.contextmanager
def served(producer: RecordProducer, source: str, release: str | None, port: int | None) -> Iterator[None]:
    """The Job's metrics on ``port`` while the block runs (nothing without a port)."""
    if port is None:
        yield
        return
    started = time.time()
    with metrics_server.serving(port, lambda: families(producer, source, release or "", started)):
        yield
