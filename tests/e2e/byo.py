"""Bring your own Kafka and PostgreSQL: a selector-less Service and an EndpointSlice per server.

That is how a cluster reaches a database or broker it does not run (RDS, MSK, a VM): the
Service gives pods a stable ClusterIP and port, the EndpointSlice says where the server really
listens.  Here the servers are the suite's own, on the host's loopback; an EndpointSlice may
not name 127.0.0.0/8, and a connection kube-proxy has already DNATed to the node's gateway is
not translated again (``devstack.node_runtime``).  So :class:`Relay` stands in for "the
server's network address": it listens on the gateway (``10.200.0.1``, the host as the pods see
it) and copies bytes to the loopback port.  Kafka's relay uses the port of the broker's POD
listener, the one its metadata advertises at the gateway, so clients that follow the metadata
land on the relay too.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any

from kubernetes import client


class Relay:
    """``host:port`` -> ``127.0.0.1:port``, one thread per direction of each connection."""

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        self.listener = socket.create_server((host, port))
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"relay-{port}", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            threading.Thread(target=_pair, args=(downstream, upstream), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        # close() alone leaves the port listening while _accept is blocked in accept(); shutdown
        # wakes it, so the next module's relay can bind the same port.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def _pair(downstream: socket.socket, upstream: socket.socket) -> None:
    back = threading.Thread(target=_pump, args=(upstream, downstream), daemon=True)
    back.start()
    _pump(downstream, upstream)
    back.join()
    downstream.close()
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until EOF, then half-close the other side (each direction ends on its own)."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)
    finally:
        with contextlib.suppress(OSError):
            source.shutdown(socket.SHUT_RD)


@dataclass(frozen=True)
class External:
    """A server outside the cluster as the pods address it: its Service's ClusterIP and port."""

    name: str
    cluster_ip: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.cluster_ip}:{self.port}"


def external_service(api: client.ApiClient, ns: str, name: str, port: int, ip: str, target: int) -> External:
    """The selector-less Service ``name`` (``port``) and its EndpointSlice (``ip:target``)."""
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    service: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "main", "port": port, "targetPort": target, "protocol": "TCP"}]},
    }
    created = core.create_namespaced_service(ns, service)
    endpoints = {
        "metadata": {"name": f"{name}-external", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "main", "port": target, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
    }
    discovery.create_namespaced_endpoint_slice(ns, endpoints)
    return External(name, created.spec.cluster_ip, port)
