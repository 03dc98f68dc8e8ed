"""A real Apache Kafka broker (KRaft, one node acting as broker and controller) for the tests.

The broker comes from Maven Central jars rather than a release tarball because Maven Central
is a registry every machine of this project can reach: ``pom.xml`` beside this module
resolves ``org.apache.kafka:kafka_2.13`` plus a log4j2 binding into
``~/.cache/cverag/kafka-<VERSION>/lib`` once, and the broker runs as
``java -cp 'lib/*' kafka.Kafka server.properties`` with its state in
``~/.cache/cverag/state/kafka/``.  Ports are chosen free at each fresh start and published in
``info.json`` (0600: it holds the password of the SASL/PLAIN listener); :func:`kill` and
:func:`restart` keep the ports, the password and the data directory so failure tests can crash
the broker and bring the *same* broker back.  A third listener advertises the real node's
gateway address (``KafkaInfo.pod_bootstrap``) for pods there; a broker recorded without it (an
older devstack) is restarted in place with it, keeping its ports and data, rather than replaced.

Set ``CVERAG_KAFKA_BOOTSTRAP=host:port`` to use an external broker instead: nothing is then
built, started, stopped or killed here (:func:`kill` and :func:`restart` refuse).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from devstack import kafka_broker, proc
from devstack.kafka_broker import SASL_USER, VERSION
from devstack.node_runtime import GATEWAY

BOOTSTRAP_ENV = "CVERAG_KAFKA_BOOTSTRAP"
# C1-only JIT: the broker starts in ~6 s instead of ~11 s on 2 cores; test traffic never needs C2.
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class KafkaInfo:
    bootstrap: str
    pid: int
    # librdkafka settings for the SASL_PLAINTEXT/PLAIN listener; None for an external broker
    sasl: dict[str, str] | None = None
    # What pods on the real node bootstrap from (the gateway forwards it to loopback); None if external
    pod_bootstrap: str | None = None


def build() -> None:
    """Resolve the broker jars with Maven, only when they are not cached yet.

    Maven writes into ``lib.partial`` which is renamed at the end, so an interrupted download
    never leaves a ``lib/`` that looks complete.
    """
    lib = kafka_broker.lib()
    if (lib / f"kafka_2.13-{VERSION}.jar").is_file():
        return
    if shutil.which("mvn") is None:
        raise proc.ServiceError("mvn not found: Maven 3.8+ is needed to fetch the Kafka jars")
    partial = lib.with_name("lib.partial")
    shutil.rmtree(partial, ignore_errors=True)
    pom, version, out = kafka_broker.HERE / "pom.xml", f"-Dkafka.version={VERSION}", f"-Dkafka.lib={partial}"
    mvn: list[str | Path] = ["mvn", "-q", "-B", "-f", pom, "dependency:copy-dependencies", version, out]
    proc.run(mvn, what="mvn copy-dependencies (Kafka jars)")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)


def external_bootstrap() -> str | None:
    return os.environ.get(BOOTSTRAP_ENV) or None


def answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when the broker serves metadata: the AdminClient lists topics and sees a broker."""
    host, _, port = bootstrap.rpartition(":")
    if not proc.port_open(int(port), host):  # skip librdkafka's connection-refused log noise
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    return bool(admin.list_topics(timeout=timeout).brokers)


def ensure_running() -> tuple[KafkaInfo, bool]:
    """Reuse a live broker, else start a fresh one (stale pids killed, data wiped, new ports)."""
    if external := external_bootstrap():
        return KafkaInfo(bootstrap=external, pid=0), False
    with kafka_broker.lock():
        info = kafka_broker.SERVICE.read_info()
        if info and "sasl_port" in info["endpoints"] and answers(info["endpoints"]["bootstrap"]):
            if "pod_port" not in info["endpoints"]:
                return _add_pod_listener(info), False
            return _kafka_info(info), False
        kafka_broker.SERVICE.stop()
        build()
        try:
            return _start_fresh(), True
        except proc.ServiceError as first:
            # Seen once in a clean CI rehearsal (cause unknown, not reproduced in 12 tries):
            # keep the evidence, then try once more from scratch before failing the session.
            (kafka_broker.SERVICE.path / "first-start-failure.log").write_text(str(first))
            kafka_broker.SERVICE.stop()
            return _start_fresh(), True


def _start_fresh() -> KafkaInfo:
    """A new broker: empty data directory, new ports and SASL password, formatted and started."""
    shutil.rmtree(kafka_broker.data_dir(), ignore_errors=True)
    kafka_broker.rotate_log()
    names = ("broker_port", "controller_port", "sasl_port", "pod_port")
    ports = dict(zip(names, kafka_broker.free_ports(len(names)), strict=True))
    password = secrets.token_urlsafe(18)
    kafka_broker.write_properties(ports, password)
    kafka_broker.format_storage()
    return _start(ports, password)


def _add_pod_listener(info: dict[str, Any]) -> KafkaInfo:
    """The running broker again with the pod listener: same ports, password and data, so the
    clients of other sessions reconnect as after a crash instead of losing their broker."""
    ports = {key: int(value) for key, value in info["endpoints"].items() if key.endswith("_port")}
    taken = set(ports.values())
    ports["pod_port"] = next(port for port in iter(proc.free_port, None) if port not in taken)
    for pid in kafka_broker.SERVICE.live_pids(info):
        proc.stop_pid(pid)
    kafka_broker.write_properties(ports, info["sasl_password"])
    return _start(ports, info["sasl_password"])


def stop() -> None:
    if external_bootstrap() is None:
        kafka_broker.SERVICE.stop()


def logs() -> list[Path]:
    return [] if external_bootstrap() else [kafka_broker.SERVICE.log("kafka")]


def running() -> bool:
    """True while the recorded broker process is alive (it may still be starting up)."""
    return external_bootstrap() is None and kafka_broker.SERVICE.read_info() is not None


def kill() -> None:
    """SIGKILL the broker as a crash would, keeping its data directory and ports."""
    info = _recorded()
    pid = int(info["pids"]["broker"])
    if pid not in kafka_broker.SERVICE.live_pids(info):
        raise proc.ServiceError(f"kafka broker pid {pid} is not running; nothing to kill")
    os.killpg(pid, signal.SIGKILL)  # the broker leads its own session (proc.spawn)
    kafka_broker.reap(pid)


def restart() -> KafkaInfo:
    """Start the broker again on the same ports and data directory, and wait until ready."""
    with kafka_broker.lock():
        info = _recorded()
        for pid in kafka_broker.SERVICE.live_pids(info):
            proc.stop_pid(pid)
        ports = {key: int(value) for key, value in info["endpoints"].items() if key.endswith("_port")}
        return _start(ports, info["sasl_password"])


def _recorded() -> dict[str, Any]:
    if external_bootstrap():
        raise proc.ServiceError(f"{BOOTSTRAP_ENV} is set: the external broker is not ours to kill or restart")
    try:
        info: dict[str, Any] = json.loads(kafka_broker.SERVICE.info_file.read_text())
    except FileNotFoundError as exc:
        raise proc.ServiceError("no Kafka broker recorded; call ensure_running() first") from exc
    return info


def _start(ports: dict[str, int], password: str) -> KafkaInfo:
    log = kafka_broker.SERVICE.log("kafka")
    broker = proc.spawn(kafka_broker.java("kafka.Kafka", kafka_broker.properties()), log)
    bootstrap = f"127.0.0.1:{ports['broker_port']}"
    endpoints = {
        "bootstrap": bootstrap,
        "sasl_bootstrap": f"127.0.0.1:{ports['sasl_port']}",
        "pod_bootstrap": f"{GATEWAY}:{ports['pod_port']}",
        **ports,
    }
    info = {
        "pids": {"broker": broker.pid},
        "endpoints": endpoints,
        "version": VERSION,
        "sasl_password": password,
    }
    kafka_broker.SERVICE.write_info(info)
    try:
        proc.wait_until(
            functools.partial(answers, bootstrap),
            what="kafka broker",
            timeout=START_TIMEOUT,
            log=log,
            process=broker,
        )
    except proc.ServiceError:
        proc.stop_pid(broker.pid)
        raise
    return _kafka_info(info)


def _kafka_info(info: dict[str, Any]) -> KafkaInfo:
    sasl = {
        "bootstrap.servers": info["endpoints"]["sasl_bootstrap"],
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": SASL_USER,
        "sasl.password": info["sasl_password"],
    }
    endpoints = info["endpoints"]
    return KafkaInfo(
        bootstrap=endpoints["bootstrap"],
        pid=int(info["pids"]["broker"]),
        sasl=sasl,
        pod_bootstrap=endpoints.get("pod_bootstrap"),
    )
