"""Process bookkeeping: a recorded pid is only ever signalled while it is still the recorded process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import proc


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not the service's, though it may hold a pid the service once had."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> proc.ServiceDir:
    monkeypatch.setattr(proc, "STATE_ROOT", tmp_path)
    return proc.ServiceDir("example")


def test_a_reused_pid_is_neither_running_nor_stopped(
    service: proc.ServiceDir, bystander: subprocess.Popen[bytes]
) -> None:
    # What a stale info.json looks like once the kernel has given its pid to another process.
    stale = {"pids": {"server": bystander.pid}, "started": {"server": "1"}}
    service.info_file.write_text(json.dumps(stale))
    assert service.read_info() is None
    assert service.stop() is False
    assert bystander.poll() is None, "the bystander must survive"
    assert not service.info_file.exists()


def test_the_recorded_process_itself_is_running_and_stopped(
    service: proc.ServiceDir, bystander: subprocess.Popen[bytes]
) -> None:
    service.write_info({"pids": {"server": bystander.pid}})
    assert oct(service.info_file.stat().st_mode & 0o777) == "0o600"
    info = service.read_info()
    assert info is not None and info["started"]["server"] == proc.start_time(bystander.pid)
    assert service.stop() is True
    assert bystander.wait(20) is not None
