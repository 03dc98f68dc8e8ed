"""One feed run: source → validation → producer, with progress lines and a summary.

The loop never stops for bad input: a rejected record or an unreadable part of the source
becomes a dead-letter message and the run goes on.  Only :class:`SourceUnavailable` (the
source could not be reached after retries) ends it early; the summary then still reports
what was delivered and the cursor of the last *completed* release, so nothing is skipped
when Kubernetes retries the Job.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from workloads.common.pacing import Clock, Every
from workloads.feed.contract import Reason
from workloads.feed.model import RawRecord, Source, SourceUnavailable
from workloads.feed.producer import RecordProducer
from workloads.feed.validate import Publishable, check


@dataclass
class Progress:
    """Prints a JSON progress line to ``out`` at most every ``interval`` seconds."""

    interval: float = 5.0
    out: TextIO = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    clock: Clock = time.monotonic
    _pace: Every = field(init=False)

    def __post_init__(self) -> None:
        self._pace = Every(self.interval, self.clock)

    def maybe_report(self, read: int, producer: RecordProducer, total: int | None) -> None:
        if not self._pace.due():
            return
        now = self.clock()
        elapsed = max(now - self.started, 1e-9)
        rate = read / elapsed
        line: dict[str, Any] = {
            "event": "progress",
            "read": read,
            "published": producer.counts.published,
            "dead_lettered": producer.counts.dead_lettered,
            "records_per_s": round(rate),
        }
        if total:
            line["total"] = total
            line["eta_s"] = round(max(total - read, 0) / rate) if rate else None
        print(json.dumps(line), file=self.out, flush=True)


def run(
    source: Source, producer: RecordProducer, max_record_bytes: int, progress: Progress
) -> dict[str, Any]:
    """Feed everything ``source`` yields into ``producer``; returns the summary."""
    read = faults = 0
    failure: str | None = None
    try:
        for item in source.items():
            read += 1
            if isinstance(item, RawRecord):
                verdict = check(item, max_record_bytes)
                if isinstance(verdict, Publishable):
                    producer.publish(item, verdict)
                else:
                    producer.dead_letter(
                        verdict.claimed_id, item.data, verdict.reason, verdict.detail, item.release
                    )
            else:
                faults += 1
                producer.dead_letter(None, item.data, Reason.UNREADABLE_SOURCE, item.detail, item.release)
            if read % 1000 == 0:
                progress.maybe_report(read, producer, source.total())
    except SourceUnavailable as exc:
        failure = str(exc)
    undelivered = producer.flush()
    return _summary(source, producer, read, faults, undelivered, failure, progress.started)


def _summary(
    source: Source,
    producer: RecordProducer,
    read: int,
    faults: int,
    undelivered: int,
    failure: str | None,
    started: float,
) -> dict[str, Any]:
    seconds = time.monotonic() - started
    counts = producer.counts
    summary: dict[str, Any] = {
        "event": "summary",
        "source": str(source.kind),
        "read": read,
        "published": counts.published,
        "dead_lettered": counts.dead_lettered,
        "errors": faults + counts.failed,
        "undelivered": undelivered,
        "reasons": dict(counts.reasons),
        "cursor": source.cursor(),
        "seconds": round(seconds, 3),
        "records_per_s": round(read / seconds) if seconds > 0 else None,
        **source.notes(),
    }
    if failure is not None:
        summary["failure"] = failure
    return summary
