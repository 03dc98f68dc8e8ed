"""The cverag image, built on this machine from the repository's ``Dockerfile`` without a registry.

``python -m devstack build image`` (``make image``) gives ``~/.cache/cverag/image/cverag-<version>-<key>.oci.tar``,
an OCI archive that ``ctr -n k8s.io images import`` loads (it carries containerd's name
annotation) and ``umoci``/``skopeo`` read.  The steps, each cached:

1. the base the Dockerfile names, made with debootstrap and tagged under that name
   (:mod:`devstack.image_base`);
2. the build context staged from the working tree: only :data:`CONTEXT` (what ``.dockerignore``
   lets ``docker build .`` see), plus the wheelhouse of the lock (:mod:`devstack.wheels`) under
   ``requirements/wheels``, so pip installs with ``--no-index`` and no index is needed either;
3. ``buildah bud --pull=never --layers`` in the project's own storage (a lock change rebuilds
   the dependency layer, a source change only the project's), then the archive.

The archive's name carries :func:`recipe_key`: the Dockerfile, the lock files, every staged
source file, the version and the base recipe.  An unchanged tree finds its archive and does
nothing else, which is what makes a warm run take seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from controllers.api.version import IMAGE, VERSION
from devstack import image_base, proc, wheels
from devstack.k8s_build import locked

REPO = Path(__file__).resolve().parents[1]
# The build context, relative to the repository; .dockerignore allows exactly these.
CONTEXT = (
    "Dockerfile",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "requirements/",
    "controllers/",
    "workloads/",
    "devstack/",
)
WHEELS_IN_CONTEXT = "requirements/wheels"
# The Dockerfile's dependency stage, tagged so that pruning keeps it (see _bud).
DEPS_TAG = "localhost/cverag-deps:latest"
HOME = proc.CACHE_ROOT / "image"
TOOLS = {"buildah": "buildah", "debootstrap": "debootstrap"}


@dataclass(frozen=True)
class Image:
    """A built image: its reference and the OCI archive that holds it."""

    name: str
    archive: Path
    key: str


def context_files() -> list[str]:
    """The working tree's files that go into the image, sorted (tracked or not ignored by git)."""
    names = sorted(
        str(rel)
        for rel in wheels.tree_files()
        if any(str(rel) == entry or (entry.endswith("/") and str(rel).startswith(entry)) for entry in CONTEXT)
    )
    return [name for name in names if "__pycache__" not in name and not name.endswith(".pyc")]


def recipe_key(files: list[str] | None = None) -> str:
    """What decides the image's bytes: base recipe, version, and every context file's content."""
    digest = hashlib.sha256(f"{image_base.RECIPE}\0{VERSION}\0".encode())
    for name in files if files is not None else context_files():
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256((REPO / name).read_bytes()).digest())
    return digest.hexdigest()[:16]


def cached() -> Image | None:
    """The archive of the working tree as it is now, if it was built before."""
    key = recipe_key()
    archive = HOME / f"cverag-{VERSION}-{key}.oci.tar"
    return Image(IMAGE, archive, key) if archive.exists() else None


def unavailable() -> str | None:
    """Why this machine cannot build the image, or None when it can."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (Debian: apt-get install {' '.join(missing)})"
    if os.geteuid() != 0:
        return "debootstrap and buildah's storage here need root"
    return None


def build() -> Image:
    """The image of the working tree, from the cache when nothing in its recipe changed."""
    with locked(HOME / "build.lock"):
        if (found := cached()) is not None:
            return found
        if (reason := unavailable()) is not None:
            raise proc.ServiceError(f"cannot build the cverag image: {reason}")
        image_base.ensure()
        files = context_files()
        key = recipe_key(files)
        archive = HOME / f"cverag-{VERSION}-{key}.oci.tar"
        with tempfile.TemporaryDirectory(prefix="cverag-image-", dir=HOME) as work:
            context = Path(work) / "context"
            _stage(context, files)
            _bud(context)
            _archive(Path(work), archive)
        _forget_older(archive)
        return Image(IMAGE, archive, key)


def _stage(context: Path, files: list[str]) -> None:
    """Copy the context files, then hard-link the lock's wheels in (same filesystem, no copy)."""
    for name in files:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, context / name)
    wheelhouse = wheels.ensure_wheelhouse()
    target = context / WHEELS_IN_CONTEXT
    target.mkdir(parents=True)
    for wheel in wheelhouse.iterdir():
        try:
            os.link(wheel, target / wheel.name)
        except OSError:
            shutil.copy2(wheel, target / wheel.name)


def _bud(context: Path) -> None:
    """Build the ``deps`` stage under a tag of its own, then the image, then drop the leftovers.

    The tag keeps the dependency layers out of ``rmi --prune`` (which takes every untagged
    image nothing builds on: earlier builds' final and project-stage images), so a source
    change reuses them and the storage holds one build, not every build of the day.
    """
    common = ["--pull=never", "--layers", "--network", "host", "--build-arg", f"VERSION={VERSION}"]
    common += ["--build-arg", f"WHEELS=/src/{WHEELS_IN_CONTEXT}", "--file", str(context / "Dockerfile")]
    deps = image_base.buildah("bud", *common, "--target", "deps", "--tag", DEPS_TAG, context)
    proc.run(deps, what="buildah bud the deps stage")
    proc.run(image_base.buildah("bud", *common, "--tag", IMAGE, context), what=f"buildah bud {IMAGE}")
    proc.run(image_base.buildah("rmi", "--prune"), what="buildah rmi --prune")


def _archive(work: Path, archive: Path) -> None:
    """Push to an OCI layout, name it the way containerd's importer reads, tar it."""
    layout = work / "layout"
    proc.run(
        image_base.buildah("push", IMAGE, f"oci:{layout}:{VERSION}"),
        what="buildah push to an OCI layout",
    )
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    for manifest in index["manifests"]:
        # ctr import names an image by this annotation; the OCI one holds only the tag.
        manifest.setdefault("annotations", {})["io.containerd.image.name"] = IMAGE
    index_path.write_text(json.dumps(index))
    partial = archive.with_name(f"{archive.name}.partial")
    with tarfile.open(partial, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(layout)), recursive=False)
    partial.rename(archive)


def _forget_older(kept: Path) -> None:
    """Each archive is a few hundred MB: only the newest recipe's is kept."""
    for old in HOME.glob("cverag-*.oci.tar*"):
        if old != kept:
            old.unlink(missing_ok=True)


if __name__ == "__main__":
    built = build()
    print(f"{built.name}\n{built.archive}")
