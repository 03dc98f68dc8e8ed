"""The Dockerfile's base image, made from Debian's mirror because no container registry is reachable.

The Dockerfile starts both stages ``FROM docker.io/library/debian:bookworm-slim``.  On a
networked machine that is the public image; here it is this module's stand-in: a
``debootstrap --variant=minbase bookworm`` root filesystem (the package set the official image
is made from) with what makes the official one *slim* (no docs, man pages or locales, apt's
container settings, the deb822 sources of bookworm, -updates and -security), imported into
buildah's storage under exactly that name, so the same Dockerfile builds with ``--pull=never``.

The root filesystem is cached as a tarball keyed by :data:`RECIPE` (about 50 s to debootstrap,
then seconds to import); the imported image's ID is remembered beside it, so a warm run only
inspects it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from devstack import proc

NAME = "docker.io/library/debian:bookworm-slim"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# Paths the official slim image removes and keeps out through dpkg's path-exclude.
_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/groff/*",
    "/usr/share/info/*",
    "/usr/share/linda/*",
    "/usr/share/lintian/overrides/*",
    "/usr/share/locale/*",
    "/usr/share/man/*",
)
_SOURCES = f"""Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# The files the official image adds to keep containers small (docker-library/debian's config).
FILES: dict[str, str] = {
    "etc/apt/sources.list.d/debian.sources": _SOURCES,
    "etc/dpkg/dpkg.cfg.d/docker": "".join(f"path-exclude {p}\n" for p in _EXCLUDES)
    + "path-include /usr/share/doc/*/copyright\n",
    "etc/dpkg/dpkg.cfg.d/docker-apt-speedup": "force-unsafe-io\n",
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
    "etc/apt/apt.conf.d/docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
    "etc/resolv.conf": "",
    "etc/hostname": "",
    "etc/machine-id": "",
}
# Everything that decides the root filesystem; a change here makes a new tarball.
RECIPE = hashlib.sha256(
    json.dumps({"suite": SUITE, "variant": "minbase", "mirror": MIRROR, "files": FILES}).encode()
).hexdigest()[:16]


def tarball() -> Path:
    """The slimmed root filesystem as a tar, made on first use (needs root and debootstrap)."""
    path = proc.CACHE_ROOT / "image" / f"base-{SUITE}-slim-{RECIPE}.tar"
    if path.exists():
        return path
    if shutil.which("debootstrap") is None:
        raise proc.ServiceError("debootstrap is not installed (Debian: apt-get install debootstrap)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cverag-base-", dir=path.parent) as work:
        root = Path(work) / "rootfs"
        proc.run(
            ["debootstrap", "--variant=minbase", SUITE, root, MIRROR],
            what=f"debootstrap --variant=minbase {SUITE}",
        )
        _slim(root)
        partial = Path(work) / "rootfs.tar"
        # Sorted names, numeric owners and a fixed mtime: the same packages give the same tarball.
        proc.run(
            ["tar", "--sort=name", "--numeric-owner", "--mtime=@0", "-C", root, "-cf", partial, "."],
            what="tar the base root filesystem",
        )
        partial.rename(path)
    return path


def _slim(root: Path) -> None:
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    for relative, text in FILES.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for pattern in _EXCLUDES:
        for path in root.glob(pattern.lstrip("/")):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for cache in ("var/cache/apt", "var/lib/apt/lists", "var/log"):
        for path in (root / cache).rglob("*"):
            if path.is_file():
                path.unlink()


def buildah(*args: str | Path) -> list[str | Path]:
    """A buildah command on the project's own storage under the cache, not the machine's."""
    storage = proc.CACHE_ROOT / "image" / "containers"
    return ["buildah", "--root", storage / "storage", "--runroot", storage / "run", *args]


def image_id(name: str) -> str | None:
    """The ID of an image in the project's storage, or None when it is not there."""
    found = subprocess.run(
        [str(a) for a in buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", name)],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None if found.returncode == 0 else None


def ensure() -> str:
    """Tag the stand-in as :data:`NAME` in the project's buildah storage; return the recipe key.

    The image made from this recipe is remembered by ID beside the tarball (not as a label,
    which the cverag image would inherit), so a warm run is one ``buildah inspect``.
    """
    marker = proc.CACHE_ROOT / "image" / f"base-{SUITE}-slim-{RECIPE}.id"
    if marker.exists() and image_id(NAME) == marker.read_text().strip():
        return RECIPE
    tar = tarball()
    container = proc.run(buildah("from", "--pull=never", "scratch"), what="buildah from scratch").strip()
    try:
        proc.run(buildah("add", container, tar, "/"), what="buildah add the base root filesystem")
        proc.run(
            buildah(
                "config",
                "--cmd",
                "bash",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--os",
                "linux",
                "--arch",
                _ARCH.get(platform.machine(), platform.machine()),
                container,
            ),
            what="buildah config the base",
        )
        out = proc.run(buildah("commit", "--rm", container, NAME), what=f"buildah commit {NAME}")
    except proc.ServiceError:
        subprocess.run([str(a) for a in buildah("rm", container)], capture_output=True, check=False)
        raise
    marker.write_text(out.strip().splitlines()[-1])
    return RECIPE
