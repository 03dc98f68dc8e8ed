"""CPU and memory accounting of the processes in a benchmark run ("where the time goes").

On a shared 2-core machine wall time mixes in whatever else runs, so every component's
CPU seconds are recorded too: the producer and the consumer from ``wait4``, PostgreSQL
processes (found through ``pg_stat_activity``) and the Kafka broker from ``/proc``.  Peak RSS is sampled from ``VmHWM``: ``wait4``'s
``ru_maxrss`` would report the benchmark's own size, which a forked child inherits.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class ProcessGroupCpu:
    """CPU used by a changing set of processes since :meth:`start` (pids seen at least once)."""

    baseline: dict[int, float] = field(default_factory=dict)
    latest: dict[int, float] = field(default_factory=dict)

    def sample(self, pids: list[int], first: bool = False) -> None:
        for pid in pids:
            used = cpu_seconds(pid)
            if used is None:
                continue
            if first:
                self.baseline[pid] = used
            self.baseline.setdefault(pid, 0.0)
            self.latest[pid] = used

    def total(self) -> float:
        return sum(self.latest[pid] - self.baseline[pid] for pid in self.latest)


@dataclass
class Finished:
    returncode: int
    cpu_s: float
    max_rss_mb: float
    stdout: str


def reap(process: subprocess.Popen[bytes], out_path: Path, block: bool, rss_mb: float) -> Finished | None:
    """Collect a child with ``wait4`` (its CPU time); ``None`` while it still runs."""
    pid, status, usage = os.wait4(process.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    process.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        returncode=process.returncode,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=rss_mb,
        stdout=out_path.read_text(errors="replace"),
    )
