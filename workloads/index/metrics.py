"""Prometheus metrics of the index sync (``python -m workloads.index sync``).

Updated from the :class:`~workloads.index.sync.SyncReport` the sync already hands its
progress callback after every batch (and once at the end of a pass), so the embedding loop
itself is untouched.  Documents embedded/s is ``rate(cverag_index_documents_embedded_total[5m])``;
the backlog is what the running pass selected (store changes after the index's cursor) and has
not processed yet; the sync lag is the time since the last pass that got through everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from workloads.index.sync import SyncReport

EMBEDDED = Counter(
    "cverag_index_documents_embedded_total", "Documents embedded and upserted (new or changed)"
)
VECTORS = Counter("cverag_index_vectors_upserted_total", "Vectors (chunks) upserted into the index")
PROCESSED = Counter("cverag_index_documents_processed_total", "Documents compared with the ledger")
DELETED = Counter("cverag_index_documents_deleted_total", "REJECTED CVEs removed from the index")
BACKLOG = Gauge("cverag_index_backlog_documents", "Documents the running pass selected and has not processed")
LAST_PASS = Gauge(
    "cverag_index_last_complete_pass_timestamp_seconds", "Unix time the last complete sync pass ended"
)
LAG = Gauge(
    "cverag_index_sync_lag_seconds", "Seconds since the last complete sync pass ended (since start before it)"
)
PASS_SECONDS = Histogram(
    "cverag_index_pass_duration_seconds",
    "Duration of one sync pass",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400),
)


class SyncMetrics:
    """Turns successive reports of a pass into counter increments (each report is cumulative)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._since = clock()
        self._seen: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._report: SyncReport | None = None
        LAG.set_function(lambda: self._clock() - self._since)

    def progress(self, report: SyncReport) -> None:
        if report is not self._report:
            self._report, self._seen = report, (0, 0, 0, 0)
        now = (report.embedded, report.vectors, report.processed, report.deleted)
        for metric, before, after in zip(
            (EMBEDDED, VECTORS, PROCESSED, DELETED), self._seen, now, strict=True
        ):
            metric.inc(after - before)
        self._seen = now
        BACKLOG.set(report.selected - report.processed)

    def pass_done(self, report: SyncReport) -> None:
        self.progress(report)
        PASS_SECONDS.observe(report.seconds)
        if report.complete:
            self._since = self._clock()
            LAST_PASS.set(self._since)
