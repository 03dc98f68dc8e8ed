"""The kind node image built offline, the way ``kind build node-image`` would with registries.

``kind build node-image`` fetches etcd, CoreDNS, pause, kindnetd and local-path-provisioner
from registries; none is reachable here.  So this module follows what kind's
``pkg/build/nodeimage`` does, with parts made on this machine:

1. the base: kind's ``images/base`` recipe (``kind/Dockerfile``, stage ``base``) on the
   debootstrap'd Debian bookworm of ``image_base`` (its systemd supports cgroup v1), with kind's
   own ``images/base/files`` read from the ``sigs.k8s.io/kind`` Go module;
2. the node layer: ``kubelet``, ``kubeadm``, ``kubectl`` built from ``k8s.io/kubernetes`` at
   the version the rest of the dev stack runs, and ``/kind/version``;
3. the images kubeadm starts, preloaded into the node's containerd exactly as kind does it
   (``ctr images import --no-unpack``, pinned) in a build container that is then committed:
   ``kube-apiserver``, ``kube-controller-manager``, ``kube-scheduler``, ``kube-proxy`` and
   ``etcd`` (the dev stack's own build) under ``cverag.local/`` (the kind config points
   kubeadm's ``imageRepository`` there), and the dev stack's pause image as the sandbox image.

Left out, each with a reason: kindnetd (not obtainable; ``kind_network`` installs a bridge CNI
configuration of the project's own instead), CoreDNS (nothing the end-to-end runs resolves a
name: the operator's children are given addresses; the kind config disables kubeadm's DNS
addon), local-path-provisioner (nothing claims a volume).  The finished image is cached as a
``docker save`` archive keyed by the Kubernetes and kind versions and a hash of the recipe, so
an engine with an empty data root gets it back with ``docker load`` in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from devstack import gotools, image_base, k8s_build, pause, proc
from devstack.docker_engine import DockerInfo, docker

KIND_VERSION = "v0.33.0"
KIND_MODULE = "sigs.k8s.io/kind"
REPOSITORY = "cverag.local"  # kubeadm's imageRepository in devstack/k8s/kind-config.yaml
DOCKERFILE = Path(__file__).with_name("kind") / "Dockerfile"
HOME = proc.CACHE_ROOT / "kind-node"
KUBEADM = replace(k8s_build.KUBERNETES, commands={"kubeadm": "k8s.io/kubernetes/cmd/kubeadm"})
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def kind_binary() -> Path:
    return gotools.go_tool(KIND_MODULE, KIND_VERSION, KIND_MODULE, name="kind")


def recipe_key() -> str:
    """Everything that decides the node image: versions, the Dockerfile, this module."""
    parts = [k8s_build.KUBERNETES_VERSION, k8s_build.ETCD_VERSION, KIND_VERSION, image_base.RECIPE]
    digest = hashlib.sha256("\n".join(parts).encode())
    for path in (DOCKERFILE, Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def node_image(engine: DockerInfo) -> str:
    """The node image's reference in ``engine``: present, loaded from the cache, or built now."""
    key = recipe_key()
    tag = f"{REPOSITORY}/kind-node:{k8s_build.KUBERNETES_VERSION}-{key}"
    archive = HOME / f"kind-node-{k8s_build.KUBERNETES_VERSION}-{key}.tar"
    with k8s_build.locked(HOME / "build.lock"):
        if _present(engine, tag):
            return tag
        if archive.is_file():
            docker(engine, "load", "-i", archive, what="docker load the kind node image")
            return tag
        started = time.monotonic()
        _build(engine, tag)
        docker(engine, "save", "-o", archive.with_suffix(".partial"), tag, what="docker save")
        archive.with_suffix(".partial").replace(archive)
        _forget_older(engine, tag, archive)
        print(f"built {tag} in {time.monotonic() - started:.0f}s", flush=True)
    return tag


def _forget_older(engine: DockerInfo, tag: str, archive: Path) -> None:
    """Earlier recipes' archives and images: a node image is over a gigabyte."""
    for older in HOME.glob("kind-node-*.tar"):
        if older != archive:
            older.unlink()
    listed = docker(engine, "images", "--format", "{{.Repository}}:{{.Tag}}", tag.rsplit(":", 1)[0])
    for stale in (t for t in listed.split() if t != tag):  # an image a node still runs stays
        subprocess.run(["docker", "rmi", stale], env=engine.env, capture_output=True, check=False)
    subprocess.run(["docker", "image", "prune", "-f"], env=engine.env, capture_output=True, check=False)


def _present(engine: DockerInfo, tag: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", tag], env=engine.env, capture_output=True)
    return done.returncode == 0


def _build(engine: DockerInfo, tag: str) -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    _debian_base(engine)
    with tempfile.TemporaryDirectory(prefix="context-", dir=HOME) as work:
        context = Path(work)
        _context(context)
        version = k8s_build.KUBERNETES_VERSION
        images = {f"{REPOSITORY}/{name}:{version}": ("component", name) for name in CONTROL_PLANE}
        images[f"{REPOSITORY}/etcd:{k8s_build.ETCD_VERSION}"] = ("component", "etcd")
        images[f"{REPOSITORY}/kube-proxy:{version}"] = ("kube-proxy", "kube-proxy")
        sandbox = pause.pause_image()
        staged = f"{tag}-staged"
        _docker_build(engine, context, "node", staged, KUBE_VERSION=version, SANDBOX_IMAGE=sandbox.name)
        for name, (target, binary) in images.items():
            _docker_build(engine, context, target, name, BINARY=binary)
        _preload(engine, staged, tag, list(images), sandbox.archive)
        docker(engine, "rmi", staged, *images, what="remove the staged images")


def _debian_base(engine: DockerInfo) -> None:
    """The Dockerfile's ``FROM``: image_base's debootstrap'd bookworm, under the official name."""
    if not _present(engine, image_base.NAME):
        docker(engine, "import", image_base.tarball(), image_base.NAME, what="docker import the base")


def _context(context: Path) -> None:
    files = k8s_build.module_dir(k8s_build.GoComponent("kind", KIND_MODULE, KIND_VERSION, {}))
    shutil.copytree(files / "images" / "base" / "files", context / "files")
    for path in (context / "files").rglob("*"):  # copied from the read-only module cache
        path.chmod(0o755 if path.is_dir() or path.parent.name == "bin" else 0o644)
    shutil.copy(DOCKERFILE, context / "Dockerfile")
    (context / "bin").mkdir()
    k8s_build.build(KUBEADM)
    k8s_build.build(k8s_build.NODE)
    k8s_build.build(k8s_build.KUBERNETES)
    k8s_build.build(k8s_build.ETCD)
    binaries = [KUBEADM.binary("kubeadm"), k8s_build.ETCD.binary("etcd")]
    binaries += [k8s_build.NODE.binary(c) for c in ("kubelet", "kube-proxy")]
    binaries += [k8s_build.KUBERNETES.binary(c) for c in (*CONTROL_PLANE, "kubectl")]
    for binary in binaries:
        shutil.copy(binary, context / "bin" / binary.name)


def _docker_build(engine: DockerInfo, context: Path, target: str, tag: str, **args: str) -> None:
    flags = [f"--build-arg={k}={v}" for k, v in args.items()]
    # The classic builder (this engine has no BuildKit); host network: apt reaches Debian's mirror.
    proc.run(
        ["docker", "build", "--network=host", f"--target={target}", *flags, "-t", tag, context],
        env={**engine.env, "DOCKER_BUILDKIT": "0"},
        what=f"docker build {tag}",
    )


def _preload(engine: DockerInfo, staged: str, tag: str, images: list[str], sandbox: Path) -> None:
    """Import the images into the node's containerd in a build container, then commit it (kind's way)."""
    box = f"cverag-kind-build-{recipe_key()}"
    subprocess.run(["docker", "rm", "-f", box], env=engine.env, capture_output=True)
    docker(engine, "run", "-d", "--privileged", "--name", box, "--entrypoint", "sleep", staged, "infinity")
    try:
        docker(engine, "exec", "-d", box, "containerd")
        proc.wait_until(lambda: _ctr(engine, box, "version") is not None, what="containerd", timeout=60)
        for name in images:
            saved = subprocess.Popen(["docker", "save", name], env=engine.env, stdout=subprocess.PIPE)
            _import(engine, box, saved.stdout)
            if saved.wait() != 0:
                raise proc.ServiceError(f"docker save {name} failed")
        with sandbox.open("rb") as archive:
            _import(engine, box, archive)
        docker(
            engine,
            "exec",
            box,
            "sh",
            "-c",
            "kill $(pidof containerd); while pidof containerd; do sleep 0.2; done",
        )
        docker(
            engine,
            "commit",
            "--change",
            'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
            "--change",
            "CMD []",
            box,
            tag,
            what="docker commit the node image",
        )
    finally:
        subprocess.run(["docker", "rm", "-f", box], env=engine.env, capture_output=True)


def _import(engine: DockerInfo, box: str, stream: object) -> None:
    cmd = ["docker", "exec", "-i", box, "ctr", "--namespace=k8s.io", "images", "import"]
    cmd += ["--label=io.cri-containerd.pinned=pinned", "--all-platforms", "--no-unpack", "--digests", "-"]
    done = subprocess.run(cmd, env=engine.env, stdin=stream, capture_output=True, text=True)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise proc.ServiceError(f"ctr images import failed: {done.stderr.strip()}")


def _ctr(engine: DockerInfo, box: str, *args: str) -> str | None:
    done = subprocess.run(
        ["docker", "exec", box, "ctr", *args], env=engine.env, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None
