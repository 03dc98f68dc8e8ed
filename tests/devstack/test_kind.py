"""The kind pieces that are not the end to end itself (that is tests/e2e, target ``kind``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from devstack import docker_engine, k8s_build, kind, kind_image

ALL_CAPS = [f"CAP_{n}" for n in ("CHOWN", "NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE", "SYS_TIME", "BPF")]


def _bounding() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)


def test_the_runtime_wrapper_drops_exactly_the_capabilities_the_bounding_set_lacks(tmp_path: Path) -> None:
    caps = {kind: list(ALL_CAPS) for kind in ("bounding", "effective", "permitted", "inheritable")}
    (tmp_path / "config.json").write_text(json.dumps({"process": {"capabilities": caps}, "root": {}}))
    env = {**os.environ, "CVERAG_RUNC": "/bin/true"}  # runc's stand-in: the spec is what is checked
    done = subprocess.run(
        [docker_engine.WRAPPER, "create", "--bundle", tmp_path, "box"], env=env, check=False
    )
    assert done.returncode == 0
    kept = json.loads((tmp_path / "config.json").read_text())["process"]["capabilities"]
    names = ["CHOWN", "NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE", "SYS_TIME", "BPF"]
    bits = {"CHOWN": 0, "NET_ADMIN": 12, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "SYS_TIME": 25, "BPF": 39}
    held = [f"CAP_{n}" for n in names if _bounding() >> bits[n] & 1]
    assert all(values == held for values in kept.values()), kept


def test_the_wrapper_drops_them_from_an_exec_process_spec_too(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"capabilities": {"bounding": ALL_CAPS}, "args": ["sh"]}))
    env = {**os.environ, "CVERAG_RUNC": "/bin/true"}
    subprocess.run([docker_engine.WRAPPER, "exec", "--process", process, "box"], env=env, check=True)
    bounding = json.loads(process.read_text())["capabilities"]["bounding"]
    assert ("CAP_SYS_RESOURCE" in bounding) == bool(_bounding() >> 24 & 1)
    assert "CAP_SYS_ADMIN" in bounding and json.loads(process.read_text())["args"] == ["sh"]


def test_the_kind_config_names_the_images_the_node_image_preloads() -> None:
    config = yaml.safe_load(kind.KIND_CONFIG.read_text())
    patches = [yaml.safe_load(p) for p in config["kubeadmConfigPatches"]]
    (cluster,) = [p for p in patches if p["kind"] == "ClusterConfiguration"]
    assert cluster["imageRepository"] == kind_image.REPOSITORY
    assert cluster["etcd"]["local"]["imageTag"] == k8s_build.ETCD_VERSION
    assert config["networking"]["disableDefaultCNI"] is True  # kind_network stands in for kindnetd
    (kubelet,) = [p for p in patches if p["kind"] == "KubeletConfiguration"]
    assert kubelet["failCgroupV1"] is False


def test_each_node_gets_a_bridge_for_its_own_pod_cidr() -> None:
    from devstack import kind_network

    config = kind_network.cni_config("10.244.3.0/24")
    bridge = config["plugins"][0]  # type: ignore[index]
    assert bridge["type"] == "bridge" and bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
