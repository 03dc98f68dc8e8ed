"""Real cverag processes, run as their pods run them, scraped and their stderr kept.

Each ``observe_*`` starts one program as a subprocess (``python -m ...``) against the real
PostgreSQL, Kafka or API server, with ``CVERAG_METRICS_PORT`` set as the operator sets it,
waits until it has done something worth counting, scrapes ``/metrics`` and returns the scrape
text with the log lines the process wrote.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from devstack import proc

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Observed:
    """What one program exported and logged."""

    program: str
    scrapes: list[str] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)

    def names(self) -> set[str]:
        """Every series name exported, counters with ``_total`` even before their first sample."""
        found: set[str] = set()
        for text in self.scrapes:
            for family in text_string_to_metric_families(text):
                found |= {sample.name for sample in family.samples}
                if family.type == "counter":
                    found.add(f"{family.name}_total")
                elif family.type == "info":
                    found.add(f"{family.name}_info")
                elif family.type in ("gauge", "unknown"):
                    found.add(family.name)
        return found

    def value(self, name: str, **labels: str) -> float | None:
        """The last scrape's sample ``name`` with ``labels`` (None when absent)."""
        for family in text_string_to_metric_families(self.scrapes[-1] if self.scrapes else ""):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return None


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def env_for(**variables: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **variables}


@contextmanager
def running(args: list[str], env: dict[str, str], stderr: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The program, stopped with SIGTERM (then SIGKILL) when the block ends."""
    with stderr.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(10)


def scrape_until(
    port: int,
    done: Callable[[Observed], bool],
    observed: Observed,
    child: subprocess.Popen[bytes],
    timeout: float = 300.0,
) -> None:
    """Scrape every half second until ``done`` holds for the latest scrape."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = scrape(port)
        if text is not None:
            observed.scrapes = [*observed.scrapes[-2:], text]
            if done(observed):
                return
        elif child.poll() is not None:
            raise AssertionError(f"{observed.program} exited ({child.returncode}) before it was observed")
        time.sleep(0.5)
    raise AssertionError(f"{observed.program}: the awaited metrics never appeared:\n{observed.scrapes[-1:]}")


def read_log(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


class StallingFile(http.server.ThreadingHTTPServer):
    """Serves one JSON-lines file, holding the last bytes back until :meth:`release`: a feed Job
    downloading it stays alive (and scrapable) for as long as the test needs."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requested = threading.Event()
        self.released = threading.Event()
        super().__init__(("127.0.0.1", 0), _StallingHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/records.jsonl"

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    server: StallingFile

    def do_GET(self) -> None:
        body = self.server.body
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:-10])
        self.wfile.flush()
        self.server.requested.set()
        self.server.released.wait(120)
        self.wfile.write(body[-10:])

    def log_message(self, format: str, *args: object) -> None:
        return


def free_port() -> int:
    return proc.free_port()


def summary_line(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}
