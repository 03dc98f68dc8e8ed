"""The PostgreSQL server as processes: whose account it runs under, and how it is found and stopped.

PostgreSQL refuses to run as root.  As root (this machine and CI) the server runs as the system user
``cverag-pg`` (created on first use) through ``setpriv``; it owns the cluster directory, and the
directories above it and above the binaries get the search bit for others (``o+x``, which lists
nothing) so that user can reach them.  As a normal user the server simply runs as that user.

PostgreSQL moves every process it forks into its data directory and each one calls setsid(), so
neither process groups nor parent pids find the backends of a postmaster killed with -9; the
executable's name together with the working directory does (Linux ``/proc``; zombies have none).
The name, not the full path: another checkout's venv may have started the server that shares the
state directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import stat
import time
from pathlib import Path

from devstack import proc

SYSTEM_USER = "cverag-pg"


def server_user() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (``None`` otherwise), created on demand."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SYSTEM_USER)
    useradd = (
        "useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin"
    )
    proc.run([*useradd.split(), SYSTEM_USER], what=f"useradd {SYSTEM_USER}")
    return pwd.getpwnam(SYSTEM_USER)


def as_server(cmd: list[str]) -> list[str]:
    if server_user() is None:
        return cmd
    return ["setpriv", f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--clear-groups", "--", *cmd]


def _grant_search(path: Path) -> None:
    """Let the server user traverse (not list) every directory down to ``path``."""
    for directory in [*reversed(path.parents), path]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def prepare_cluster_dir(cluster: Path, binaries: Path) -> Path:
    """``cluster`` created, owned by the server user, who can reach it and ``binaries``."""
    cluster.mkdir(mode=0o700, exist_ok=True)
    user = server_user()
    if user is not None:
        os.chown(cluster, user.pw_uid, user.pw_gid)
        _grant_search(cluster.parent)
        _grant_search(binaries)
    return cluster


def initdb(binaries: Path, cluster: Path, superuser: str, password: str) -> None:
    """Initialise ``cluster/data`` with password (SCRAM) authentication for TCP and socket alike.

    ``--no-sync`` skips only initdb's final flush of a cluster that is thrown away on any doubt.
    """
    pwfile = cluster / "initdb-password"
    pwfile.write_text(password)
    user = server_user()
    if user is not None:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    try:
        options = "--auth=scram-sha-256 --encoding=UTF8 --locale-provider=builtin --builtin-locale=C.UTF-8"
        command = [
            str(binaries / "initdb"),
            "-D",
            str(cluster / "data"),
            "-U",
            superuser,
            f"--pwfile={pwfile}",
        ]
        proc.run(as_server([*command, *options.split(), "--no-sync", "--no-instructions"]), what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def server_processes(data: Path) -> list[int]:
    """Live processes of the server on ``data``, orphans and stale ones included."""
    where = os.path.realpath(data)
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if (
                os.path.basename(os.readlink(entry / "exe")) == "postgres"
                and os.readlink(entry / "cwd") == where
            ):
                found.append(int(entry.name))
    return found


def wait_gone(data: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while server_processes(data):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def send(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def shutdown(postmaster: int, data: Path) -> None:
    """Fast shutdown (SIGINT: roll back sessions, checkpoint), then SIGKILL whatever hangs on.

    SIGTERM would be PostgreSQL's *smart* shutdown, which waits for every client to leave.
    """
    if postmaster in server_processes(data):
        send([postmaster], signal.SIGINT)
    if not wait_gone(data, 30.0):
        send(server_processes(data), signal.SIGKILL)
        wait_gone(data, 10.0)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(postmaster, os.WNOHANG)  # reap it if this process started it


def kill(postmaster: int, data: Path) -> None:
    """SIGKILL the postmaster, as ``kill -9`` would; its backends notice and exit."""
    if postmaster in server_processes(data):
        send([postmaster], signal.SIGKILL)
    if not wait_gone(data, 10.0):
        send(server_processes(data), signal.SIGKILL)
        wait_gone(data, 10.0)
