"""Pieces of ``make demo``: prerequisite checks, a child process whose progress lines are
parsed while it runs, and a progress line with rate and ETA.

Kept apart from :mod:`devstack.demo` (the sequence of steps) so each stays readable.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_RECORDS = REPO.parent / "shared" / "data" / "cve-records.jsonl.gz"
_CONSUMED = re.compile(r"consumed (\d+)")


def missing_prerequisites(online: bool) -> list[str]:
    """What the embedded default needs and this machine lacks, as sentences to print."""
    from devstack import kafka_broker

    problems = []
    if shutil.which("java") is None:
        problems.append(
            "Java 17+ is not installed: Kafka runs on the JVM (Debian: apt-get install openjdk-17-jre-headless)"
        )
    if (
        not (kafka_broker.lib() / f"kafka_2.13-{kafka_broker.VERSION}.jar").is_file()
        and shutil.which("mvn") is None
    ):
        problems.append(
            "Maven is not installed and the Kafka jars are not cached yet (Debian: apt-get install maven)"
        )
    if not online and not SHARED_RECORDS.is_file():
        problems.append(
            f"no offline data at {SHARED_RECORDS}; run with --online to read the live cvelistV5 feed"
        )
    return problems


def count_lines(path: Path) -> int:
    with gzip.open(path, "rb") as stream:
        return sum(1 for _ in stream)


@dataclass
class Child:
    """A workload run as a child process; its stderr progress is parsed into ``count``."""

    name: str
    process: subprocess.Popen[str]
    count: int = 0
    summary: dict[str, object] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, name: str, args: Sequence[str], env: dict[str, str]) -> Child:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        child = cls(name, process)
        threading.Thread(target=child._read_progress, daemon=True).start()
        return child

    def _read_progress(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.tail = [*self.tail[-20:], line.rstrip()]
            if line.startswith("{") and '"progress"' in line:
                self.count = int(json.loads(line).get("published", self.count))
            elif match := _CONSUMED.search(line):
                self.count = int(match[1])

    def wait(self) -> dict[str, object]:
        out, _ = self.process.communicate()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        self.summary = json.loads(lines[-1]) if lines else {}
        if self.process.returncode != 0:
            raise RuntimeError(
                f"{self.name} failed (exit {self.process.returncode}):\n" + "\n".join(self.tail)
            )
        return self.summary


def rate_and_eta(done: int, total: int | None, started: float) -> str:
    seconds = max(time.monotonic() - started, 1e-9)
    rate = done / seconds
    if not total or not rate:
        return f"{done:,} ({rate:,.0f}/s)"
    left = max(total - done, 0) / rate
    return f"{done:,}/{total:,} ({rate:,.0f}/s, ETA {left // 60:.0f}m{left % 60:02.0f}s)"


def say(text: str) -> None:
    print(text, flush=True)
