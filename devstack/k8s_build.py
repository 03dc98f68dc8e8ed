"""Build the Kubernetes control-plane binaries from the Go module proxy, once, into the cache.

There is no Docker and no release-binary download on the machines cverag is tested on, but
the Go module proxy is reachable, so etcd, the kube-* components, kubectl and kwok are
compiled from their Go modules.  ``go install module/cmd@version`` refuses modules whose
go.mod has ``replace`` directives (kubernetes points its ``k8s.io/*`` staging modules at
``./staging``, etcd points at ``../api`` and friends), so each is built inside a throwaway
wrapper module that requires it and re-points every such replace at the published module of
the matching version.  The replace list is read from the downloaded go.mod itself, so a
version bump needs no hand-kept list.  Binaries land in ``~/.cache/cverag/<name>-<ver>/bin``
and are only built when missing; a lock file keeps two concurrent callers from racing.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from devstack import proc

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

_GO_ENV = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod -buildvcs=false"}


@dataclass(frozen=True)
class GoComponent:
    """One Go module whose ``main`` packages become cached binaries."""

    name: str
    module: str
    version: str
    commands: dict[str, str]  # binary name -> main package path
    ldflags: str = "-s -w"
    staging_version: Callable[[str], str] = lambda v: v

    @property
    def home(self) -> Path:
        return proc.cache_dir(self.name, self.version)

    def binary(self, command: str) -> Path:
        return self.home / "bin" / command

    def missing(self) -> list[str]:
        return [c for c in self.commands if not self.binary(c).is_file()]


def _kubernetes_staging(version: str) -> str:
    """Staging modules (k8s.io/api, client-go, ...) of Kubernetes v1.X.Y are published as v0.X.Y."""
    return "v0." + version.split(".", 1)[1]


KUBERNETES = GoComponent(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=KUBERNETES_VERSION,
    commands={
        c: f"k8s.io/kubernetes/cmd/{c}"
        for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    },
    ldflags=f"-s -w -X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
    staging_version=_kubernetes_staging,
)
ETCD = GoComponent(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=ETCD_VERSION,
    commands={"etcd": "go.etcd.io/etcd/server/v3"},
)
KWOK = GoComponent(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=KWOK_VERSION,
    commands={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
    ldflags=f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",
)
COMPONENTS = (ETCD, KUBERNETES, KWOK)
# The real node's binaries (devstack.node): same module, version and cache directory as the
# control plane, so they reuse its Go build cache; built only when a real node is wanted.
NODE = replace(KUBERNETES, commands={c: f"k8s.io/kubernetes/cmd/{c}" for c in ("kubelet", "kube-proxy")})


def build_all() -> None:
    """Build every missing binary and unpack kwok's stage files; a no-op when all are cached."""
    for component in COMPONENTS:
        build(component)
    kwok_stages_dir()


def build(component: GoComponent) -> None:
    if not component.missing():
        return
    with locked(component.home / ".build.lock"):
        if not component.missing():  # another process finished it while we waited
            return
        work = _wrapper_module(component)
        for command in component.missing():
            _compile(component, command, work)


def kwok_stages_dir() -> Path:
    """kwok's stage definitions (``kustomize/stage``), copied out of its module source."""
    target = KWOK.home / "stages"
    if (target / "pod" / "fast" / "pod-ready.yaml").is_file():
        return target
    # Locked: `devstack build` and a test session starting the cluster may both get here.
    with locked(KWOK.home / ".stages.lock"):
        if not (target / "pod" / "fast" / "pod-ready.yaml").is_file():
            source = Path(_download(KWOK)["Dir"]) / "kustomize" / "stage"
            tmp = KWOK.home / "stages.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("testdata", "*.go"))
            for path in tmp.rglob("*"):  # the module cache is read-only; our copy need not be
                path.chmod(0o755 if path.is_dir() else 0o644)
            shutil.rmtree(target, ignore_errors=True)
            tmp.replace(target)
    return target


def module_dir(component: GoComponent) -> Path:
    """The component's module source in the Go module cache (read-only; downloaded if missing)."""
    return Path(_download(component)["Dir"])


def _wrapper_module(component: GoComponent) -> Path:
    """A module requiring ``component`` with its local replaces pointed at published versions."""
    work = component.home / "build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module cverag.local/build\n\ngo 1.26\n")
    upstream = json.loads(_go(["mod", "edit", "-json", _download(component)["GoMod"]], work))
    required = {r["Path"] for r in upstream.get("Require") or []}
    edits = [f"-require={component.module}@{component.version}"]
    for rep in upstream.get("Replace") or []:
        old, new = rep["Old"]["Path"], rep["New"]
        if new.get("Version") is None and old in required:  # a local-path replace of a real dependency
            edits.append(f"-replace={old}={old}@{component.staging_version(component.version)}")
    _go(["mod", "edit", *edits], work)
    return work


def _compile(component: GoComponent, command: str, work: Path) -> None:
    out = component.binary(command)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{command}.tmp")
    started = time.monotonic()
    _go(
        ["build", "-trimpath", "-ldflags", component.ldflags, "-o", str(tmp), component.commands[command]],
        work,
    )
    tmp.replace(out)
    print(f"built {command} {component.version} in {time.monotonic() - started:.0f}s", file=sys.stderr)


def _download(component: GoComponent) -> dict[str, str]:
    out = _go(["mod", "download", "-json", f"{component.module}@{component.version}"], component.home)
    info: dict[str, str] = json.loads(out)
    return info


def _go(args: Sequence[str], cwd: Path) -> str:
    go = shutil.which("go") or "/usr/local/go/bin/go"
    return proc.run([go, *args], cwd=cwd, env=_GO_ENV, what=f"go {args[0]}")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``, held across processes until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if __name__ == "__main__":  # pragma: no cover - used to run the slow cold build in the background
    build_all()
