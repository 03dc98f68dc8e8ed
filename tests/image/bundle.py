"""Run the built image as a container without a kubelet: ``umoci unpack`` + ``runc run``.

``umoci unpack`` turns the OCI archive into a runtime bundle whose ``config.json`` is the image's
own config (user, env, working directory, command) as a container runtime reads it.  Each run
then tightens it the way every cverag manifest does: read-only root filesystem, an empty tmpfs
on ``/tmp`` (the emptyDir), no capabilities, no new privileges, its own network namespace with
nothing in it.  The unpacked bundle is cached per archive, so only the first run pays for it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.image import HOME, Image


@dataclass
class Unpacked:
    """An unpacked image: its root filesystem and the runtime config the image implies."""

    path: Path

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.path / "config.json").read_text())
        return loaded

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``args`` as the image's user, under the manifests' restrictions; output captured."""
        spec = copy.deepcopy(self.config)
        process = spec["process"]
        process["terminal"] = False
        process["args"] = list(args)
        process["noNewPrivileges"] = True
        process["capabilities"] = {key: [] for key in process.get("capabilities", {})}
        spec["root"] = {"path": str(self.rootfs), "readonly": True}
        spec["mounts"].append(
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777"],
            }
        )
        with tempfile.TemporaryDirectory(prefix="cverag-runc-") as tmp:
            run_dir = Path(tmp)
            (run_dir / "config.json").write_text(json.dumps(spec))
            cmd = ["runc", "--root", str(run_dir / "state"), "run", "--bundle", str(run_dir)]
            return subprocess.run(
                [*cmd, f"cverag-test-{uuid.uuid4().hex[:8]}"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )


def missing_tools() -> list[str]:
    return [tool for tool in ("umoci", "runc") if shutil.which(tool) is None]


def unpack(image: Image) -> Unpacked:
    """The archive's bundle under ``~/.cache/cverag/image/bundle-<key>``, made once."""
    target = HOME / f"bundle-{image.key}"
    if (target / "config.json").exists():
        return Unpacked(target)
    for old in HOME.glob("bundle-*"):
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="cverag-unpack-", dir=HOME) as tmp:
        layout = Path(tmp) / "layout"
        with tarfile.open(image.archive) as tar:
            tar.extractall(layout, filter="tar")
        tag = image.name.rsplit(":", 1)[1]
        partial = Path(tmp) / "bundle"
        subprocess.run(
            ["umoci", "unpack", "--image", f"{layout}:{tag}", str(partial)],
            check=True,
            capture_output=True,
        )
        partial.rename(target)
    return Unpacked(target)


def oci_config(image: Image) -> dict[str, Any]:
    """The image config blob, read straight from the archive (what every runtime reads)."""
    with tarfile.open(image.archive) as tar:

        def blob(digest: str) -> Any:
            member = tar.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}")
            assert member is not None
            return json.load(member)

        index_member = tar.extractfile("index.json")
        assert index_member is not None
        index = json.load(index_member)
        (entry,) = index["manifests"]
        manifest = blob(entry["digest"])
        config: dict[str, Any] = blob(manifest["config"]["digest"])
        config["_index_annotations"] = entry.get("annotations", {})
        config["_layers"] = manifest["layers"]
        return config
