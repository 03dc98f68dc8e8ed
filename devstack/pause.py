"""The ``pause`` image every pod sandbox needs, made here because no registry is reachable.

It is compiled from Kubernetes' own ``build/pause/linux/pause.c`` (read from the
``k8s.io/kubernetes`` module source the control-plane build already downloaded) as a static
binary with the flags of upstream's Makefile, and runs as upstream's user 65535.  Images are
written as OCI image-layout archives by hand (``write_archive``: one uncompressed layer,
fixed mtimes, so the digest depends only on the content), cached under ``~/.cache/cverag/``
and loaded with ``ctr images import``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from devstack import k8s_build, proc

PAUSE_SOURCE = "build/pause/linux/pause.c"


@dataclass(frozen=True)
class Image:
    """An OCI archive on disk and the reference it is imported under."""

    name: str
    archive: Path


def pause_tag() -> str:
    """The pause version upstream's Makefile builds for this Kubernetes release (``TAG ?= …``)."""
    makefile = (_kubernetes_source() / "build/pause/Makefile").read_text()
    match = re.search(r"^TAG \?= (\S+)$", makefile, re.MULTILINE)
    if match is None:
        raise proc.ServiceError("no TAG in kubernetes' build/pause/Makefile")
    return match.group(1)


def pause_image() -> Image:
    """``cverag.local/pause:<tag>``, built once per Kubernetes version."""
    home = proc.cache_dir("pause", k8s_build.KUBERNETES_VERSION)
    tag = pause_tag()
    image = Image(f"cverag.local/pause:{tag}", home / f"pause-{tag}.oci.tar")
    if image.archive.is_file():
        return image
    binary = home / "pause"
    flags = ["-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{tag}-{k8s_build.KUBERNETES_VERSION}"]
    gcc = shutil.which("gcc") or "gcc"
    proc.run([gcc, *flags, "-o", binary, _kubernetes_source() / PAUSE_SOURCE], what="gcc pause.c")
    proc.run(["strip", binary], what="strip pause")
    config: dict[str, object] = {"Entrypoint": ["/pause"], "User": "65535:65535"}
    write_archive(image, {"pause": binary.read_bytes()}, {}, config)
    return image


def write_archive(
    image: Image, files: dict[str, bytes], links: dict[str, str], config: dict[str, object]
) -> None:
    """Write ``image`` as an OCI image layout in a tar: layer, config, manifest, index."""
    layer = _layer(files, links)
    layer_digest = _sha(layer)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "devstack.pause (written by hand, no build tool)"}],
    }
    config_blob = _json(image_config)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config_blob),
            "layers": [_descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }
    )
    entry = _descriptor("application/vnd.oci.image.manifest.v1+json", manifest)
    entry["annotations"] = {
        "io.containerd.image.name": image.name,
        "org.opencontainers.image.ref.name": image.name.rsplit(":", 1)[1],
    }
    index = _json({"schemaVersion": 2, "manifests": [entry]})
    blobs = {f"blobs/sha256/{_sha(b).split(':')[1]}": b for b in (layer, config_blob, manifest)}
    members = {"oci-layout": _json({"imageLayoutVersion": "1.0.0"}), "index.json": index, **blobs}
    tmp = image.archive.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as out:
        out.addfile(_dir_info("blobs"))
        out.addfile(_dir_info("blobs/sha256"))
        for name, data in members.items():
            out.addfile(_file_info(name, len(data), 0o644), io.BytesIO(data))
    tmp.replace(image.archive)


def _layer(files: dict[str, bytes], links: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for directory in sorted({str(Path(n).parent) for n in [*files, *links]} - {"."}):
            layer.addfile(_dir_info(directory))
        for name, data in sorted(files.items()):
            layer.addfile(_file_info(name, len(data), 0o755), io.BytesIO(data))
        for name, target in sorted(links.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            layer.addfile(info)
    return buffer.getvalue()


def _file_info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, mode
    return info


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def _descriptor(media_type: str, blob: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _sha(blob), "size": len(blob)}


def _sha(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _kubernetes_source() -> Path:
    """The ``k8s.io/kubernetes`` module source in the Go module cache (downloaded if missing)."""
    return Path(k8s_build.module_dir(k8s_build.KUBERNETES))
