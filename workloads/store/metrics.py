"""Prometheus metrics of the store consumer (``python -m workloads.store consume``).

Throughput counters are read from the consumer's own :class:`~workloads.store.progress.Totals`
at scrape time, and consumer lag from librdkafka's cached watermarks and the consumer's
positions (no broker round trip), so nothing is counted per record.  Only two things are
recorded as they happen, once per batch or per dead letter: batch latency and dead letters
by reason (a small fixed set of codes from :mod:`workloads.store.messages`).

Records/s is ``rate(cverag_store_records_consumed_total[5m])``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from workloads.common import metrics_server

if TYPE_CHECKING:
    from workloads.store.consumer import StoreConsumer

BATCH_SECONDS = Histogram(
    "cverag_store_batch_duration_seconds",
    "Time from handing a decoded batch to the writers to its committed outcome",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEAD_LETTERED = Counter(
    "cverag_store_dead_lettered_total", "Messages sent to the dead-letter topic, by reason", ["reason"]
)
COUNTERS = (
    ("records_consumed", "consumed", "Kafka messages consumed and applied (or dead-lettered)"),
    ("consumed_bytes", "bytes", "Bytes of message values consumed"),
    ("versions_written", "versions", "New CVE versions written to the store"),
    ("records_unchanged", "unchanged", "Records identical to the stored version (no new version)"),
    ("records_replayed", "replayed", "Records already applied (a replay after a restart)"),
    ("batches", "batches", "Batches applied"),
)


def dead_lettered(reasons: Iterable[str]) -> None:
    for reason in reasons:
        DEAD_LETTERED.labels(reason).inc()


def batch_done(seconds: float) -> None:
    BATCH_SECONDS.observe(seconds)


def _collect(consumer: StoreConsumer) -> Iterable[Metric]:
    totals = consumer.progress.totals
    for name, attribute, help_ in COUNTERS:
        family = CounterMetricFamily(f"cverag_store_{name}", help_)
        family.add_metric([], getattr(totals, attribute))
        yield family
    yield _lag(consumer)


def _lag(consumer: StoreConsumer) -> Metric:
    """Messages behind the partition's end, per assigned partition (cached watermarks)."""
    family = GaugeMetricFamily(
        "cverag_store_consumer_lag_records",
        "Messages not yet consumed, by partition",
        labels=["topic", "partition"],
    )
    kafka = consumer.consumer
    for tp in kafka.position(kafka.assignment()):
        low, high = kafka.get_watermark_offsets(tp, cached=True)
        if high < 0:
            continue  # no fetch response yet: the end is not known
        start = consumer.starts.get((tp.topic or "", tp.partition), low)
        at = tp.offset if tp.offset >= 0 else max(start, low)
        family.add_metric([tp.topic or "", str(tp.partition)], max(high - at, 0))
    return family


@contextlib.contextmanager
def served(consumer: StoreConsumer, port: int | None) -> Iterator[None]:
    """``consumer``'s metrics on ``port`` (none without one) while the block runs."""
    if port is None:
        yield
        return
    with metrics_server.serving(port, lambda: _collect(consumer)):
        yield
