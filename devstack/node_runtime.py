"""containerd, CNI and the one NAT chain of the real node: configuration written by hand.

containerd runs as our own process with its own socket, root and state directories below
the node's state directory, so it neither needs nor disturbs a system containerd.  Two
settings are not defaults: ``SystemdCgroup = false`` (no systemd here; the kubelet uses the
cgroupfs driver too) and ``restrict_oom_score_adj = true`` — the capability bounding set of
this machine lacks ``CAP_SYS_RESOURCE``, and without it every sandbox fails with
``can't get final child's PID from pipe: EOF`` when runc tries to lower its oom_score_adj.

Pods get a bridge (``cverag0``, made here so its address exists before the first pod),
host-local addresses, portmap and loopback from Debian's ``containernetworking-plugins``.
The API server, Kafka and PostgreSQL bind 127.0.0.1, which kube-proxy cannot reach: an
EndpointSlice may not hold 127.0.0.0/8, and a connection is DNATed once, so a Service whose
endpoint is the bridge gateway reaches only a host service listening there (measured: a
gateway-bound server answers through a selector-less Service, a loopback-bound one refuses).
So the chain ``CVERAG-NODE``, first in nat PREROUTING and only for traffic from the bridge,
DNATs the ``kubernetes`` Service address to the API server's loopback port, and
``forward_host_port`` DNATs ``GATEWAY:port`` to ``127.0.0.1:port``; ``route_localnet=1`` on
the bridge (only there) lets such packets be routed to loopback.  Services between pods, and
selector-less Services for host services listening on ``GATEWAY``, go through kube-proxy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from devstack import proc

BRIDGE = "cverag0"
# Not kwok's fake 10.244.0.0/16 nor podman's 10.88.0.0/16, so addresses never collide.
POD_SUBNET, GATEWAY = "10.200.0.0/24", "10.200.0.1"
CNI_BIN_DIR = Path("/usr/lib/cni")
CHAIN = "CVERAG-NODE"
NETWORK = "cverag-pods"


def containerd_config(home: Path, sandbox_image: str) -> Path:
    """containerd's config.toml (format version 2, containerd 1.6) and the CNI config it reads."""
    cni_conf = home / "cni" / "net.d"
    write_cni_config(cni_conf, home / "cni" / "ipam")
    config = home / "containerd" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runc = f"{cri}.containerd.runtimes.runc"
    config.write_text(
        f"""version = 2
root = "{home / "containerd" / "root"}"
state = "{home / "containerd" / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{socket(home)}"
[ttrpc]
  address = "{home / "containerd" / "containerd.sock.ttrpc"}"
[debug]
  address = ""
[metrics]
  address = ""

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{runc}]
  runtime_type = "io.containerd.runc.v2"
[{runc}.options]
  SystemdCgroup = false
  BinaryName = "/usr/sbin/runc"
  Root = "{home / "containerd" / "runc"}"
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{cni_conf}"
  max_conf_num = 1
"""
    )
    return config


def socket(home: Path) -> Path:
    return home / "containerd" / "containerd.sock"


def write_cni_config(conf_dir: Path, ipam_dir: Path) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    conflist = {
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(ipam_dir),
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    (conf_dir / "10-cverag.conflist").write_text(json.dumps(conflist, indent=2))
    (conf_dir / "99-loopback.conf").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "lo", "type": "loopback"})
    )


def missing_tools() -> list[str]:
    """What this machine lacks to run containers (empty when it can)."""
    missing = [str(p) for p in (Path("/usr/bin/containerd"), Path("/usr/sbin/runc")) if not p.is_file()]
    missing += [
        f"{CNI_BIN_DIR}/{p}"
        for p in ("bridge", "host-local", "portmap", "loopback")
        if not (CNI_BIN_DIR / p).is_file()
    ]
    missing += [tool for tool in ("iptables", "ip", "ctr") if shutil.which(tool) is None]
    if not Path("/sys/fs/cgroup/memory").is_dir() and not Path("/sys/fs/cgroup/cgroup.controllers").is_file():
        missing.append("cgroups (no memory controller under /sys/fs/cgroup)")
    return missing


def setup_network(apiserver_port: int, service_ip: str, host_ports: list[int]) -> None:
    """The bridge with its gateway address, route_localnet on it, and the CVERAG-NODE chain."""
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0:
        proc.run(["ip", "link", "add", BRIDGE, "type", "bridge"], what="ip link add")
    subprocess.run(["ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE], capture_output=True, check=False)
    proc.run(["ip", "link", "set", BRIDGE, "up"], what="ip link set up")
    Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").write_text("1\n")
    _iptables("-N", CHAIN, check=False)
    _iptables("-F", CHAIN)
    if _iptables("-C", "PREROUTING", "-j", CHAIN, check=False) != 0:
        _iptables("-I", "PREROUTING", "-j", CHAIN)
    rule = ["-i", BRIDGE, "-d", service_ip, "-p", "tcp", "--dport", "443", "-j", "DNAT"]
    _iptables("-A", CHAIN, *rule, "--to-destination", f"127.0.0.1:{apiserver_port}")
    for port in host_ports:
        forward_host_port(port)


def forward_host_port(port: int) -> str:
    """Let pods reach a loopback-bound host service at ``GATEWAY:port``; returns that address."""
    rule = ["-i", BRIDGE, "-d", GATEWAY, "-p", "tcp", "--dport", str(port), "-j", "DNAT"]
    rule += ["--to-destination", f"127.0.0.1:{port}"]
    if _iptables("-C", CHAIN, *rule, check=False) != 0:
        _iptables("-A", CHAIN, *rule)
    return f"{GATEWAY}:{port}"


def _iptables(*args: str, check: bool = True) -> int:
    result = subprocess.run(
        ["iptables", "-w", "-t", "nat", *args], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise proc.ServiceError(f"iptables -t nat {' '.join(args)}: {result.stderr.strip()}")
    return result.returncode
