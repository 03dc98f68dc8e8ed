"""The Kafka broker's files and process plumbing: jars, properties, storage, log, lock.

:mod:`devstack.kafka` keeps the lifecycle (start, reuse, kill, restart); this module is what it
runs and writes, the way :mod:`devstack.pg_process` serves :mod:`devstack.postgres`.
"""

from __future__ import annotations

import base64
import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

from devstack import proc
from devstack.node_runtime import GATEWAY

VERSION = "4.3.1"
SASL_USER = "cverag"
JVM_OPTS = ["-Xms256m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError"]
HERE = Path(__file__).resolve().parent / "kafka"
SERVICE = proc.ServiceDir("kafka")


def lib() -> Path:
    return proc.cache_dir("kafka", VERSION) / "lib"


def format_storage() -> None:
    """Format the log directory as a standalone (single-voter, dynamic) KRaft quorum."""
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    fmt: list[str | Path] = ["format", "--standalone", "--config", properties(), "--cluster-id", cluster_id]
    proc.run(java("kafka.tools.StorageTool", *fmt), what="kafka storage format")


def java(main_class: str, *args: str | Path) -> list[str | Path]:
    log4j = f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}"
    return ["java", *JVM_OPTS, log4j, "-cp", f"{lib()}/*", main_class, *args]


def write_properties(ports: dict[str, int], password: str) -> None:
    template = Template((HERE / "server.properties").read_text())
    values = {**ports, "data_dir": data_dir(), "sasl_user": SASL_USER, "sasl_password": password}
    values["pod_host"] = GATEWAY
    properties().write_text(template.substitute(values))
    properties().chmod(0o600)


def free_ports(count: int) -> list[int]:
    ports = {proc.free_port()}
    while len(ports) < count:
        ports.add(proc.free_port())
    return sorted(ports)


def reap(pid: int) -> None:
    """Collect the killed broker if this process started it, so it leaves no zombie."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        proc.wait_until(lambda: not proc.pid_alive(pid), what=f"broker pid {pid} exit", timeout=15.0)


def rotate_log() -> None:
    log = SERVICE.log("kafka")
    if log.exists():
        log.replace(log.with_suffix(".log.1"))


def data_dir() -> Path:
    return SERVICE.path / "data"


def properties() -> Path:
    return SERVICE.path / "server.properties"


@contextmanager
def lock() -> Iterator[None]:
    """Serialise start/restart across concurrent test sessions sharing the state directory."""
    with (SERVICE.path / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
