"""Helpers for the real-node tests: pods that run there, waiting, serving and fetching."""

from __future__ import annotations

import http.server
import subprocess
import threading
from typing import Any, TypeVar

from kubernetes import client

from devstack import probe_image
from devstack.cluster import ClusterInfo
from devstack.node import NodeInfo
from tests.support.kube import eventually, kubectl

T = TypeVar("T")
UID = 10001


def probe_pod(
    node: NodeInfo, name: str, command: str, tolerate: bool = True, **container: Any
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": node.node_selector,
            "tolerations": node.tolerations if tolerate else [],
            "securityContext": {"runAsUser": UID, "runAsGroup": UID, "runAsNonRoot": True},
            "containers": [
                {
                    "name": "main",
                    "image": probe_image.probe_image().name,
                    "imagePullPolicy": "Never",  # there is no registry: the image was imported
                    "command": ["/bin/sh", "-c", command],
                    "securityContext": {
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    **container,
                }
            ],
        },
    }


def running(core: client.CoreV1Api, ns: str, name: str) -> Any:
    def ready() -> Any:
        pod = core.read_namespaced_pod(name, ns)
        statuses = pod.status.container_statuses or []
        return pod if pod.status.phase == "Running" and statuses and statuses[0].ready else None

    return eventually(ready, f"pod {name} Running and ready")


def serve_here(host: str, body: bytes) -> tuple[http.server.HTTPServer, int]:
    """An HTTP server in this test process on ``host`` (a free port), answering ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def fetch_in(cluster: ClusterInfo, ns: str, pod: str, url: str) -> str:
    return kubectl(cluster.kubeconfig, "-n", ns, "exec", pod, "--", "wget", "-q", "-O-", url).stdout


def kube_proxy_has(cluster_ip: str) -> bool:
    rules = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"], capture_output=True, text=True
    )
    return f"-d {cluster_ip}/32" in rules.stdout
