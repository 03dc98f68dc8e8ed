"""Progress lines: rate always, total and ETA once the source knows its size."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from workloads.feed.pipeline import Progress
from workloads.feed.producer import Deliveries


class _Counts:
    def __init__(self) -> None:
        self.counts = Deliveries(published=900, dead_lettered=3)


def _line(total: int | None) -> dict[str, Any]:
    out = io.StringIO()
    progress = Progress(interval=0, out=out, started=time.monotonic() - 2.0)
    progress.maybe_report(1000, _Counts(), total)  # type: ignore[arg-type]
    return dict(json.loads(out.getvalue()))


def test_rate_and_counts() -> None:
    line = _line(None)
    assert (line["event"], line["read"], line["published"], line["dead_lettered"]) == (
        "progress",
        1000,
        900,
        3,
    )
    assert 0 < line["records_per_s"] <= 500
    assert "eta_s" not in line


def test_eta_when_total_known() -> None:
    line = _line(5000)
    assert line["total"] == 5000
    assert abs(line["eta_s"] - 4000 / (1000 / 2.0)) <= 1  # 4000 left at ~500/s


def test_interval_limits_output() -> None:
    out = io.StringIO()
    progress = Progress(interval=3600, out=out)
    progress.maybe_report(1, _Counts(), None)  # type: ignore[arg-type]
    progress.maybe_report(2, _Counts(), None)  # type: ignore[arg-type]
    assert len(out.getvalue().splitlines()) == 1
