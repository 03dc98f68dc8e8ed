"""One measured load: ``python -m workloads.feed --source file`` and/or
``python -m workloads.store consume`` as subprocesses, watched from outside.

Progress is read from the store itself (the sum of committed positions), every 0.2 s,
so "done" means committed in PostgreSQL, not merely consumed.  The consumer runs with
``--until-idle``; its idle tail is not counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from workloads.store.db import StoreTarget, connect

from .accounting import Finished, ProcessGroupCpu, cpu_seconds, peak_rss_mb, reap

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.2
BACKGROUND = {"checkpointer", "background writer", "walwriter", "autovacuum launcher", "autovacuum worker"}


@dataclass
class Services:
    bootstrap: str
    dsn: str
    broker_pid: int


@dataclass
class Phase:
    """What one load measured: wall times from the start of the phase, CPU per component."""

    wall_s: float = 0.0
    first_commit_s: float | None = None
    producer: Finished | None = None
    consumer: Finished | None = None
    postgres_cpu_s: float = 0.0
    """CPU of the PostgreSQL sessions of this load's processes (the server is shared)."""
    postgres_background_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    summaries: dict[str, Any] = field(default_factory=dict)


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.DEVNULL
        )


def _committed(monitor: psycopg.Connection[Any]) -> int:
    row = monitor.execute("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets").fetchone()
    return int(row[0]) if row else 0


def _indexes_pending(monitor: psycopg.Connection[Any]) -> bool:
    """Whether an initial load still owes the indexes it deferred (workloads/store/bulkload):
    a load is done when its records are committed *and* the store is fully indexed."""
    row = monitor.execute(
        "SELECT to_regclass('deferred_indexes') IS NOT NULL AND EXISTS (SELECT 1 FROM deferred_indexes)"
    ).fetchone()
    return bool(row and row[0])


def _settle(monitor: psycopg.Connection[Any]) -> None:
    """Start each load with no checkpoint debt: otherwise the previous load's ~3 GB of dirty
    pages and WAL are flushed during this one and its figures measure the disk, not it."""
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        monitor.execute("CHECKPOINT")


def _backends(monitor: psycopg.Connection[Any], application: str) -> tuple[list[int], list[int]]:
    """Server pids of this load's sessions, and of the server's background processes
    (checkpointer, WAL writer, autovacuum: shared with anything else using the server)."""
    rows = monitor.execute("SELECT pid, application_name, backend_type FROM pg_stat_activity").fetchall()
    mine = [int(pid) for pid, app, _ in rows if app == application]
    return mine, [int(pid) for pid, _, kind in rows if kind in BACKGROUND]


def _summary(finished: Finished | None) -> dict[str, Any]:
    lines = [line for line in (finished.stdout if finished else "").splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def run_phase(
    services: Services,
    target: StoreTarget,
    topic: str,
    records: int,
    *,
    dataset: Path | None,
    consume: bool,
    batch_size: int,
    logs: Path,
) -> Phase:
    """Produce ``dataset`` (if given) and/or consume into ``target`` (if ``consume``)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CVERAG_PG_DSN": services.dsn,
        "CVERAG_PG_SCHEMA": target.schema,
        "PGAPPNAME": f"bench-{target.schema}",
    }
    monitor = connect(target, autocommit=True)
    _settle(monitor)
    phase, broker0 = Phase(), cpu_seconds(services.broker_pid) or 0.0
    own, background = ProcessGroupCpu(), ProcessGroupCpu()
    background.sample(_backends(monitor, env["PGAPPNAME"])[1], first=True)
    started = time.monotonic()
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    peaks: dict[str, float] = {}
    if dataset is not None:
        out = logs / f"producer-{topic}.log"
        feed = ["-m", "workloads.feed", "--source", "file", "--source-url", str(dataset)]
        feed += ["--kafka-bootstrap", services.bootstrap, "--topic", topic, "--progress-interval", "30"]
        running["producer"] = (_spawn(feed, out, env), out)
    if consume:
        out = logs / f"consumer-{topic}.log"
        store = ["-m", "workloads.store", "consume", "--bootstrap", services.bootstrap, "--topic", topic]
        store += ["--group", f"bench-{target.schema}", "--batch-size", str(batch_size), "--until-idle", "3"]
        running["consumer"] = (_spawn(store, out, env), out)
    done = not consume
    while running:
        time.sleep(POLL)
        mine, shared = _backends(monitor, env["PGAPPNAME"])
        own.sample(mine)
        background.sample(shared)
        if consume and not done:
            committed = _committed(monitor)
            if committed and phase.first_commit_s is None:
                phase.first_commit_s = time.monotonic() - started
            if committed >= records and not _indexes_pending(monitor):
                done, phase.wall_s = True, time.monotonic() - started
        for name, (process, out) in list(running.items()):
            peaks[name] = max(peaks.get(name, 0.0), peak_rss_mb(process.pid))
            if finished := reap(process, out, block=False, rss_mb=peaks[name]):
                setattr(phase, name, finished)
                del running[name]
                if name == "producer" and not consume:
                    phase.wall_s = time.monotonic() - started
    phase.postgres_cpu_s, phase.postgres_background_cpu_s = own.total(), background.total()
    phase.broker_cpu_s = (cpu_seconds(services.broker_pid) or 0.0) - broker0
    phase.summaries = {"producer": _summary(phase.producer), "consumer": _summary(phase.consumer)}
    if consume and not done:
        raise RuntimeError(f"the store holds {_committed(monitor)} of {records} records; see {logs}/*.err")
    monitor.close()
    return phase
