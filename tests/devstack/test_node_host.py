"""What the real node changes on the host is recorded once and undone (``devstack.node_host``),
against the real host: sysctls, iptables chains and the rules that jump to them, mounts,
directories.  Only things the test itself made are touched."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from devstack import node_host


def test_the_host_is_recorded_once_so_a_restart_after_a_crash_keeps_the_original(tmp_path: Path) -> None:
    record = tmp_path / "host-before.json"
    first = node_host.record_once(record)
    assert first.sysctls["kernel.panic"] == node_host.read_sysctl("kernel.panic")
    # What a kubelet that crashed would have left behind must not become "the original".
    record.write_text(
        record.read_text().replace(
            f'"kernel.panic": "{first.sysctls["kernel.panic"]}"', '"kernel.panic": "7"'
        )
    )
    assert node_host.record_once(record).sysctls["kernel.panic"] == "7"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing sysctls, iptables and mounts needs root")
def test_restore_undoes_sysctls_chains_mounts_and_directories(tmp_path: Path) -> None:
    sysctl = "kernel.keys.root_maxkeys"  # one the kubelet sets, harmless to bump for a moment
    before = node_host.read_sysctl(sysctl)
    assert before is not None
    snapshot = node_host.take()
    created, own = tmp_path / "created-by-the-node", tmp_path / "node-state"
    snapshot.sysctls = {sysctl: before}
    snapshot.absent_paths = [str(created)]
    snapshot.chains = {"iptables/filter": snapshot.chains["iptables/filter"]}  # leave live NAT alone
    record = tmp_path / "host-before.json"
    record.write_text(json.dumps(dataclasses.asdict(snapshot)))

    chain = f"CVERAG-T{uuid.uuid4().hex[:6].upper()}"
    jump = ["OUTPUT", "-d", "198.51.100.7/32", "-j", chain]  # TEST-NET-2: matches no real traffic
    node_host.write_sysctl(sysctl, str(int(before) + 1))
    subprocess.run(["iptables", "-w", "-N", chain], check=True)
    subprocess.run(["iptables", "-w", "-A", *jump], check=True)
    created.mkdir()
    (own / "mnt").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(own / "mnt")], check=True)

    assert node_host.restore(record, [own], "cverag-none0") == []
    assert node_host.read_sysctl(sysctl) == before
    rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True, check=True).stdout
    assert chain not in rules
    assert not created.exists()
    assert str(own / "mnt") not in Path("/proc/self/mounts").read_text()
    assert not record.exists()  # all undone: the next start records the host afresh
