"""``python -m workloads.store.health``: the consumer pod's readiness and liveness probe.

A consumer is useful only while it can reach both ends, so the probe asks each once, with
short timeouts: PostgreSQL must accept a connection and hold the store's schema, and Kafka
must list the records topic.  Exit 0 when both answer; otherwise exit 1 with one line per
problem on stderr (kubectl describe shows it).  Configuration is the consumer's own
environment (:class:`~workloads.store.settings.StoreSettings`); secrets are read from it and
never printed.  ``--check-config`` validates it and exits 2 when it is invalid.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import psycopg
from confluent_kafka import KafkaException
from psycopg.conninfo import make_conninfo

from workloads.common.kafka_login import ObservedAdmin
from workloads.store.db import StoreTarget
from workloads.store.settings import StoreSettings, kafka_security

TIMEOUT = 5


def postgres_problem(target: StoreTarget) -> str | None:
    try:
        with psycopg.connect(make_conninfo(target.dsn, connect_timeout=TIMEOUT)) as conn:
            row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [target.schema]).fetchone()
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
    return None if row and row[0] else f"PostgreSQL answers but schema {target.schema!r} does not exist"


def kafka_problem(bootstrap: str, topic: str, security: dict[str, str] | None = None) -> str | None:
    """What keeps Kafka from serving ``topic``; TLS/SASL from the environment unless given."""
    if not bootstrap:
        return "CVERAG_KAFKA_BOOTSTRAP is not set"
    security = kafka_security() if security is None else security
    admin = ObservedAdmin({"bootstrap.servers": bootstrap, "log_level": 2, **security})
    try:
        metadata = admin.client.list_topics(timeout=TIMEOUT)
    except KafkaException as exc:
        if refused := admin.refused():
            return f"Kafka at {bootstrap} refused the credentials: {refused}"
        return f"Kafka unreachable at {bootstrap}: {exc}"
    return None if topic in metadata.topics else f"Kafka answers but topic {topic!r} does not exist"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = StoreSettings.from_env()
        if args == ["--check-config"]:
            settings.consume_settings()  # the probe checks what the consumer needs
            return 0
    except ValueError as exc:  # SettingsError included
        print(f"not ready: invalid configuration: {exc}", file=sys.stderr)
        return 2
    bootstrap, security = settings.kafka_bootstrap, settings.kafka_security()
    problems = [
        p
        for p in (postgres_problem(settings.target), kafka_problem(bootstrap, settings.topic, security))
        if p
    ]
    for problem in problems:
        print(f"not ready: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
