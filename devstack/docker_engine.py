"""A Docker engine for kind: the user's own when one answers, else a ``dockerd`` of the dev stack's.

kind needs a Docker engine; the machines cverag is tested on have Debian's ``docker.io``
(dockerd 20.10) installed but none running.  This module never touches an engine the user
already has: if ``docker info`` answers on ``DOCKER_HOST`` or the default socket, that engine
is used and left alone.  Otherwise it starts its own ``dockerd`` with its own socket, data root,
exec root and pid file below ``~/.cache/cverag/state/docker`` and stops it by its recorded pid.

Two settings of that ``dockerd`` are workarounds for this machine, named as such:

* ``--default-runtime capsafe``: the capability bounding set here lacks ``CAP_SYS_RESOURCE``,
  so ``docker run --privileged`` (which kind needs for its nodes) fails with "unable to apply
  caps".  ``docker/capsafe-runc`` drops, from each container's OCI spec, the capabilities the
  bounding set does not hold, then execs runc.
* ``--iptables=false``: this engine's containers need no NAT (kind's nodes talk to each other
  on their bridge and to the host at its gateway address), and Docker's rules would set the
  host's FORWARD policy to DROP, which breaks the real kubelet node's pods on the same host.

Its images (the kind node image among them) persist in the data root between sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack import proc

STATE = proc.ServiceDir("docker")
WRAPPER = Path(__file__).with_name("docker") / "capsafe-runc"


@dataclass(frozen=True)
class DockerInfo:
    host: str  # the DOCKER_HOST value that reaches the engine
    own: bool  # started by the dev stack (else the user's, never stopped here)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}


def unavailable() -> str | None:
    """Why no engine can be had here, or None."""
    if _answers(_user_host()):
        return None
    if shutil.which("dockerd") is None:
        return "no Docker engine answers and dockerd is not installed (Debian: apt-get install docker.io)"
    if os.geteuid() != 0:
        return "no Docker engine answers and starting one needs root"
    return None


def ensure_running() -> tuple[DockerInfo, bool]:
    """The user's engine if it answers, else ours (started if needed); True if started now."""
    if _answers(user := _user_host()):
        return DockerInfo(user, own=False), False
    ours = f"unix://{STATE.path / 'docker.sock'}"
    if STATE.read_info() is not None and _answers(ours):
        return DockerInfo(ours, own=True), False
    STATE.stop()
    reason = unavailable()
    if reason is not None:
        raise proc.ServiceError(reason)
    log = STATE.log("dockerd")
    process = proc.spawn(_dockerd(ours), log)
    proc.wait_until(lambda: _answers(ours), what="dockerd", timeout=120, log=log, process=process)
    STATE.write_info({"pids": {"dockerd": process.pid}, "endpoints": {"host": ours}})
    return DockerInfo(ours, own=True), True


def stop() -> None:
    """Stop our dockerd (its containers stop with it); an engine of the user's is never stopped."""
    STATE.stop()


def logs() -> list[Path]:
    return [STATE.log("dockerd")]


def docker(info: DockerInfo, *args: str | os.PathLike[str], what: str = "") -> str:
    return proc.run(["docker", *args], env=info.env, what=what or f"docker {args[0]}")


def _dockerd(host: str) -> list[str | Path]:
    home = STATE.path
    return [
        "dockerd",
        f"--host={host}",
        f"--data-root={home / 'data'}",
        f"--exec-root={home / 'exec'}",
        f"--pidfile={home / 'dockerd.pid'}",
        "--storage-driver=overlay2",
        "--exec-opt=native.cgroupdriver=cgroupfs",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",  # no docker0: kind makes its own network
        f"--add-runtime=capsafe={WRAPPER}",
        "--default-runtime=capsafe",
    ]


def _user_host() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _answers(host: str) -> bool:
    if shutil.which("docker") is None:
        return False
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        env={**os.environ, "DOCKER_HOST": host},
        capture_output=True,
        check=False,
        timeout=30,
    )
    return done.returncode == 0
