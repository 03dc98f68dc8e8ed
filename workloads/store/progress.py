"""Progress lines (stderr) and the final JSON summary line (stdout) of ``consume``.

The operator and the tests parse only the summary (``{"event": "summary", ...}``);
progress is for humans watching a Job's log, throttled to one line every few seconds.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from workloads.common.pacing import Clock, Every
from workloads.store.writer import BatchOutcome


@dataclass
class Totals:
    consumed: int = 0
    bytes: int = 0
    versions: int = 0
    unchanged: int = 0
    replayed: int = 0
    out_of_order: int = 0
    dead_lettered: int = 0
    hash_header_mismatches: int = 0
    batches: int = 0
    decode_seconds: float = 0.0
    """Main thread decoding and normalising (overlaps the previous batch's write)."""
    wait_seconds: float = 0.0
    """Main thread blocked on the writer thread: where the database is the bottleneck."""
    started: float = field(default_factory=time.monotonic)

    def add(self, consumed: int, size: int, outcome: BatchOutcome, mismatches: int) -> None:
        self.consumed += consumed
        self.bytes += size
        self.batches += 1
        self.versions += outcome.versions
        self.unchanged += outcome.unchanged
        self.replayed += outcome.replayed
        self.out_of_order += outcome.out_of_order
        self.dead_lettered += outcome.dead_lettered
        self.hash_header_mismatches += mismatches

    def rates(self) -> tuple[float, float, float]:
        seconds = max(time.monotonic() - self.started, 1e-9)
        return seconds, self.consumed / seconds, self.bytes / seconds / 1e6


class Progress:
    def __init__(self, every: float, out: TextIO | None = None, clock: Clock = time.monotonic) -> None:
        self.out = out or sys.stderr  # looked up now: logs.configure may have replaced it since import
        self.totals = Totals()
        self._pace = Every(every, clock)

    def tick(self, force: bool = False) -> None:
        if not (self._pace.due() or force):
            return
        t = self.totals
        seconds, rate, mb = t.rates()
        print(
            f"consumed {t.consumed} ({rate:,.0f} records/s, {mb:.1f} MB/s) versions {t.versions}"
            f" unchanged {t.unchanged} replayed {t.replayed} dlq {t.dead_lettered} in {seconds:.1f}s",
            file=self.out,
            flush=True,
        )

    def summary(self, **extra: Any) -> dict[str, Any]:
        seconds, rate, mb = self.totals.rates()
        fields = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self.totals).items()}
        del fields["started"]
        return {
            "event": "summary",
            **fields,
            "seconds": round(seconds, 3),
            "records_per_s": round(rate, 1),
            "mb_per_s": round(mb, 2),
            **extra,
        }


def emit(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, sort_keys=True, default=str), flush=True)
