"""``python -m workloads.index sync [--once | --interval SECONDS] [--limit N] [--rebuild]``.

Configuration comes from the environment (:class:`~workloads.index.settings.IndexSettings`;
``--check-config`` validates it, prints it with secrets masked and exits).  Progress
lines (documents/s, ETA) go to stderr; each pass ends with one JSON summary line on stdout
(``{"event": "summary", ...}``).  ``--interval`` keeps syncing until SIGTERM/SIGINT, which
finish the current batch first.  Exit status: 0 done, 2 bad configuration, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from workloads.common import logs, metrics_server
from workloads.common.pacing import Every
from workloads.index.settings import IndexSettings, open_backend
from workloads.index.sync import IndexSync, SyncReport

if TYPE_CHECKING:
    from workloads.index.metrics import SyncMetrics


class _Progress:
    """At most one line every ``every`` seconds: processed/selected, rate and ETA."""

    def __init__(self, every: float, metrics: SyncMetrics | None = None) -> None:
        self._pace = Every(every)
        self._metrics = metrics

    def __call__(self, report: SyncReport) -> None:
        if self._metrics is not None:
            self._metrics.progress(report)
        if not self._pace.due():
            return
        rate = report.processed / max(report.seconds, 1e-9)
        left = (report.selected - report.processed) / rate if rate else 0.0
        embed_rate = report.embedded / max(report.seconds, 1e-9)
        print(
            f"index: {report.processed}/{report.selected} CVEs ({rate:,.1f}/s, ETA {left:,.0f}s) "
            f"embedded {report.embedded} ({embed_rate:,.1f} docs/s) unchanged {report.unchanged} "
            f"deleted {report.deleted}",
            file=sys.stderr,
            flush=True,
        )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.index", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    sync = sub.add_parser("sync", help="bring the vector index up to date with the store")
    mode = sync.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one pass, then exit (the default)")
    mode.add_argument("--interval", type=float, metavar="SECONDS", help="sync every SECONDS until stopped")
    sync.add_argument("--limit", type=int, help="stop a pass after embedding about N documents")
    sync.add_argument("--rebuild", action="store_true", help="forget the cursor and hashes first")
    sync.add_argument("--progress-every", type=float, default=5.0, metavar="SECONDS")
    sync.add_argument(
        "--check-config", action="store_true", help="validate and print the configuration, then exit"
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = IndexSettings.from_env()
    except ValueError as exc:
        print(f"index: {exc}", file=sys.stderr)
        return 2
    if args.check_config:
        print(json.dumps({"event": "config", "settings": settings.describe()}), flush=True)
        return 0
    from workloads.index.embedding import create_embedder
    from workloads.index.metrics import SyncMetrics

    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sync = IndexSync(
        settings.store,
        settings.index_name,
        create_embedder(settings.embedding),
        open_backend(settings),
        settings.batch_size,
        settings.metric,
    )
    server = metrics_server.serve(settings.metrics_port)
    metrics = SyncMetrics() if server is not None else None
    try:
        if args.rebuild:
            sync.prepare()
            sync.ledger.reset()
        while True:
            report = sync.run_once(args.limit, _Progress(args.progress_every, metrics), stopping.is_set)
            if metrics is not None:
                metrics.pass_done(report)
            print(json.dumps({"event": "summary", **report.as_json()}), flush=True)
            if args.interval is None or stopping.wait(args.interval):
                return 0
    finally:
        sync.close()
        if server is not None:
            server.shutdown()


if __name__ == "__main__":
    logs.configure("workloads.index")  # as a program only: tests calling main() keep their capture
    sys.exit(main())
