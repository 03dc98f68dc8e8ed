"""What a real node changes on the host, recorded before it starts and undone by ``down``.

A kubelet is not a sandboxed test process: it sets kernel tunables it considers kubelet
defaults (``kernel.panic=10``, ``kernel.panic_on_oops=1``, ``vm.overcommit_memory=1``, the
key quotas), adds canary chains to iptables, creates cgroups and directories under
``/var`` and ``/run``; CNI adds a bridge, NAT chains and network namespaces, and turns on
IP forwarding.  None of that should outlive ``python -m devstack down`` on a developer's
machine.  The state before the first start is written once to ``host-before.json`` (a node
restarted after a crash keeps the original record, not the values the crashed kubelet
left) and ``restore`` puts it back: sysctls, iptables chains that did not exist (and the
rules that jump to them), mounts below the node's directories, cgroups, and directories.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

SYSCTLS = (
    "kernel.panic",
    "kernel.panic_on_oops",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",  # kube-proxy's, turned off in its config; checked anyway
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
)
# Created by kubelet, containerd (shim sockets, CNI network namespaces) or the CNI plugins
# even though every configurable directory points below the node's state directory.
PATHS = (
    "/var/lib/kubelet",
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/cni",
    "/run/containerd",
    "/var/run/netns",
    "/run/netns",
    "/opt/cni",
)
TABLES = ("filter", "nat", "mangle")
IPTABLES = ("iptables", "ip6tables")
CHAIN_PREFIXES = ("KUBE-", "CNI-", "CVERAG-")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAMES = ("kubepods", "kubepods.slice")


@dataclass
class Snapshot:
    sysctls: dict[str, str]
    absent_paths: list[str]
    chains: dict[str, list[str]]  # "iptables/nat" -> chains that existed
    cgroups: list[str]  # kubepods cgroups that existed


def take() -> Snapshot:
    return Snapshot(
        sysctls={name: value for name in SYSCTLS if (value := read_sysctl(name)) is not None},
        absent_paths=[p for p in PATHS if not os.path.lexists(p)],
        chains={f"{tool}/{table}": sorted(_chains(tool, table)) for tool in IPTABLES for table in TABLES},
        cgroups=[str(p) for p in _kubepods_cgroups()],
    )


def record_once(path: Path) -> Snapshot:
    """The recorded snapshot if there is one (the host as it was before any node), else take it now."""
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, TypeError):
        return Snapshot(**json.loads(path.read_text()))
    snapshot = take()
    path.write_text(json.dumps(asdict(snapshot), indent=2))
    return snapshot


def restore(path: Path, own_dirs: list[Path], bridge: str) -> list[str]:
    """Undo everything since ``path``'s snapshot; returns what could not be undone (empty if all)."""
    try:
        snapshot = Snapshot(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return []
    problems: list[str] = []
    _run(["ip", "link", "delete", bridge], problems, quiet=True)
    for target in [*own_dirs, *map(Path, PATHS)]:
        unmount_below(target, problems)
    for key, before in snapshot.chains.items():
        tool, table = key.split("/")
        _delete_new_chains(tool, table, set(before), problems)
    for cgroup in _kubepods_cgroups():
        if str(cgroup) not in snapshot.cgroups:
            _remove_cgroup(cgroup, problems)
    for name, value in snapshot.sysctls.items():
        if read_sysctl(name) != value:
            write_sysctl(name, value)
    for created in snapshot.absent_paths:
        _run(["rm", "-rf", "--one-file-system", created], problems)
    if not problems:
        path.unlink()
    return problems


def read_sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", *name.split(".")).write_text(value + "\n")


def unmount_below(directory: Path, problems: list[str]) -> None:
    """Lazily unmount every mount point at or below ``directory``, deepest first."""
    root = str(directory.resolve()) if directory.exists() else str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == root or point.startswith(root.rstrip("/") + "/"):
            points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        _run(["umount", "-l", point], problems)


def _chains(tool: str, table: str) -> set[str]:
    result = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
    return {line.split()[1] for line in result.stdout.splitlines() if line.startswith("-N ")}


def _delete_new_chains(tool: str, table: str, before: set[str], problems: list[str]) -> None:
    new = {c for c in _chains(tool, table) - before if c.startswith(CHAIN_PREFIXES)}
    if not new:
        return
    rules = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True, check=False)
    for rule in rules.stdout.splitlines():  # jumps from chains that stay (built-in ones) first
        words = shlex.split(rule)  # CNI's rules carry quoted comments
        if words[0] == "-A" and words[1] not in new and ("-j" in words or "-g" in words):
            target = words[words.index("-j" if "-j" in words else "-g") + 1]
            if target in new:
                _run([tool, "-w", "-t", table, "-D", *words[1:]], problems)
    for chain in new:
        _run([tool, "-w", "-t", table, "-F", chain], problems)
    for chain in new:
        _run([tool, "-w", "-t", table, "-X", chain], problems)


def _kubepods_cgroups() -> list[Path]:
    if not CGROUP_ROOT.is_dir():
        return []
    found = [h / n for n in CGROUP_NAMES for h in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()] if (h / n).is_dir()]
    return sorted(found)


def _remove_cgroup(cgroup: Path, problems: list[str]) -> None:
    """rmdir a cgroup tree bottom-up (a cgroup directory is removed with rmdir, never rm -r)."""
    for directory, _, _ in sorted(os.walk(cgroup), key=lambda entry: len(entry[0]), reverse=True):
        try:
            os.rmdir(directory)
        except OSError as exc:
            problems.append(f"rmdir {directory}: {exc}")


def _run(cmd: list[str], problems: list[str], quiet: bool = False) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 and not quiet:
        problems.append(f"{' '.join(cmd)}: {result.stderr.strip()}")
