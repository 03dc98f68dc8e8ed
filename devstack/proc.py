"""Process bookkeeping shared by every local service.

Each service owns a state directory ``~/.cache/cverag/state/<name>/`` holding its pid file,
its log and an ``info.json`` that says how to reach it (ports, DSN, kubeconfig).  A service
counts as running only while the pid recorded there is alive *and* its health check passes,
so a crashed earlier run (stale pid file, half-written data directory, a port still in use)
is detected and cleaned up instead of breaking the next start.  Ports are chosen free at
start time and published through ``info.json`` rather than hard-coded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_ROOT = Path(os.environ.get("CVERAG_CACHE", str(Path.home() / ".cache" / "cverag")))
STATE_ROOT = CACHE_ROOT / "state"


class ServiceError(RuntimeError):
    """A service failed to build, start or answer; the message carries its log tail."""


def cache_dir(component: str, version: str) -> Path:
    """Where a built or downloaded component lives, keyed by version so upgrades rebuild."""
    path = CACHE_ROOT / f"{component}-{version}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot, ``/proc/<pid>/stat`` field 22).

    With only 32768 pids on this machine and thousands of short processes per test run, a
    recorded pid is soon someone else's; pid plus start time names one process for good.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def same_process(pid: int, started: str | None) -> bool:
    """True while ``pid`` is still the process recorded with ``started`` (None: unknown, trust the pid)."""
    return pid_alive(pid) and (started is None or start_time(pid) == started)


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"


@dataclass
class ServiceDir:
    """The state directory of one named service."""

    name: str

    @property
    def path(self) -> Path:
        p = STATE_ROOT / self.name
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def info_file(self) -> Path:
        return self.path / "info.json"

    def log(self, process: str) -> Path:
        return self.path / f"{process}.log"

    def read_info(self) -> dict[str, Any] | None:
        """The recorded info if every recorded process is still running, else ``None``."""
        try:
            info: dict[str, Any] = json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not info.get("pids") or len(self.live_pids(info)) != len(info["pids"]):
            return None
        return info

    @staticmethod
    def live_pids(info: Mapping[str, Any]) -> list[int]:
        """The recorded pids that are still the recorded processes (pids get reused)."""
        started = info.get("started", {})
        return [
            int(pid)
            for name, pid in info.get("pids", {}).items()
            if same_process(int(pid), started.get(name))
        ]

    def write_info(self, info: Mapping[str, Any]) -> None:
        """Record ``info`` (mode 0600); each pid in ``info["pids"]`` is stored with its start time."""
        started = {name: start_time(int(pid)) for name, pid in info.get("pids", {}).items()}
        tmp = self.info_file.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        # 0600 from the first byte: some services record a password here
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(json.dumps({**info, "started": started}, indent=2, sort_keys=True))
        tmp.replace(self.info_file)

    def stop(self) -> bool:
        """Stop every process recorded for this service (never a stranger with a reused pid);
        True if anything was running."""
        try:
            info = json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return False
        running = self.live_pids(info)
        for pid in reversed(running):
            stop_pid(pid)
        self.info_file.unlink(missing_ok=True)
        return bool(running)

    def describe(self) -> str:
        info = self.read_info()
        return f"{self.name}: " + ("running " + json.dumps(info.get("endpoints", {})) if info else "stopped")


def spawn(
    cmd: Sequence[str | os.PathLike[str]],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own session, output appended to ``log``.

    A new session means the service survives the shell or test session that started it
    (``make dev-up``) and can be stopped as a group by its pid.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [os.fspath(c) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
    interval: float = 0.25,
) -> None:
    """Poll ``ready`` until it holds; on timeout or process exit raise with the log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"{what}: process exited with {process.returncode}\n{_tail(log)}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(interval)
    raise ServiceError(f"{what}: not ready after {timeout:.0f}s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return f"--- last lines of {log} ---\n{log_tail(log)}" if log else ""


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    what: str = "",
) -> str:
    """Run a build or setup command to completion; raise with its output if it fails."""
    proc = subprocess.run(
        [os.fspath(c) for c in cmd],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-80:])
        raise ServiceError(f"{what or cmd[0]} failed with exit {proc.returncode}:\n{tail}")
    return proc.stdout
