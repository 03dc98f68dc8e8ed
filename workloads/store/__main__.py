"""``python -m workloads.store {migrate,consume,prune,snapshot,stats,load-kev,load-epss}``.

Configuration is :class:`~workloads.store.settings.StoreSettings`, the environment the
operator passes (``CVERAG_PG_DSN`` or the PG* variables, ``CVERAG_PG_SCHEMA``,
``CVERAG_KAFKA_BOOTSTRAP``, ``CVERAG_TOPIC``, ...); flags override it.  Every command ends
with one JSON summary line on stdout (``{"event": "summary", ...}``); progress and errors go
to stderr; ``--check-config`` after a command prints its configuration (secrets masked)
instead of running it.  Exit status: 0 done, 2 bad usage, configuration or input, 1 database
or other failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import psycopg

from workloads.common import logs
from workloads.store import enrichment, retention
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate, schema_version
from workloads.store.progress import emit
from workloads.store.query import StoreReader
from workloads.store.settings import StoreSettings


def _consume(args: argparse.Namespace, target: StoreTarget) -> dict[str, Any]:
    from workloads.store import metrics
    from workloads.store.consumer import StoreConsumer

    migrate(target)
    consumer = StoreConsumer(args.settings.consume_settings(args.until_idle), target)
    with metrics.served(consumer, args.settings.metrics_port):
        return consumer.run()


def _keep(value: str) -> int | None:
    return None if value.lower() == "all" else int(value)


def _prune(args: argparse.Namespace, target: StoreTarget) -> dict[str, Any]:
    deleted = retention.prune(target, _keep(args.keep), args.retain_days)
    return {"deleted_versions": deleted, "keep": args.keep, "retain_days": args.retain_days}


def _snapshot(args: argparse.Namespace, target: StoreTarget) -> dict[str, Any]:
    if args.delete:
        return {"deleted": retention.delete_snapshot(target, args.name), "name": args.name}
    snap = retention.take_snapshot(target, args.name, args.note)
    return {"name": snap.name, "seq": snap.seq, "taken_at": snap.taken_at.isoformat()}


def _stats(args: argparse.Namespace, target: StoreTarget) -> dict[str, Any]:
    with StoreReader(target) as store:
        return store.stats().as_json()


COMMANDS: dict[str, Callable[[argparse.Namespace, StoreTarget], dict[str, Any]]] = {
    "migrate": lambda a, t: {"applied": migrate(t), "schema_version": schema_version(t)},
    "consume": _consume,
    "prune": _prune,
    "snapshot": _snapshot,
    "stats": _stats,
    "load-kev": lambda a, t: enrichment.load_kev(t, a.source or enrichment.KEV_URL),
    "load-epss": lambda a, t: enrichment.load_epss(t, a.source or enrichment.EPSS_URL),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.store", description=__doc__.splitlines()[0])
    top.add_argument("--dsn", help="libpq DSN (default CVERAG_PG_DSN, else the PG* variables)")
    top.add_argument("--schema", help="schema of this store (default CVERAG_PG_SCHEMA or cverag)")
    # Every command takes --check-config, so a pod's own command line can be checked as it is.
    check = argparse.ArgumentParser(add_help=False)
    check.add_argument(
        "--check-config", action="store_true", help="validate and print the configuration, then exit"
    )
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the schema", parents=[check])
    consume = sub.add_parser("consume", help="consume the records topic into the store", parents=[check])
    consume.add_argument("--bootstrap", help="Kafka bootstrap servers (CVERAG_KAFKA_BOOTSTRAP)")
    consume.add_argument("--topic", help="records topic (CVERAG_TOPIC)")
    consume.add_argument("--group", help="consumer group (CVERAG_CONSUMER_GROUP, default cverag-store)")
    consume.add_argument("--dlq-topic", help="dead-letter topic (CVERAG_DLQ_TOPIC, default <topic>.dlq)")
    consume.add_argument("--batch-size", type=int, help="records per transaction (CVERAG_BATCH_SIZE)")
    consume.add_argument(
        "--writers", type=int, help="parallel database writers (CVERAG_STORE_WRITERS, default 2)"
    )
    consume.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="stop after SECONDS without records"
    )
    prune = sub.add_parser(
        "prune", help="delete superseded versions outside the retention policy", parents=[check]
    )
    prune.add_argument("--keep", default="all", help="'all' or N: versions kept per CVE (current included)")
    prune.add_argument("--retain-days", type=float, help="delete versions superseded more than DAYS ago")
    snapshot = sub.add_parser(
        "snapshot", help="label the store's current state (usable as as_of)", parents=[check]
    )
    snapshot.add_argument("name")
    snapshot.add_argument("--note")
    snapshot.add_argument("--delete", action="store_true", help="delete the snapshot instead")
    sub.add_parser("stats", help="records by state, versions, last ingest", parents=[check])
    for name, what in (("load-kev", "CISA KEV catalog JSON"), ("load-epss", "EPSS scores CSV (gz)")):
        loader = sub.add_parser(name, help=f"load the {what} from a file or URL", parents=[check])
        loader.add_argument("source", nargs="?", help="file path or URL (default: the public feed)")
    return top


def _failed(command: str, exc: Exception, status: int) -> int:
    print(f"store {command}: {type(exc).__name__}: {exc}", file=sys.stderr)
    emit({"event": "summary", "command": command, "ok": False, "error": str(exc)})
    return status


# Flags (argparse dest) that override a settings field.
FLAG_FIELDS = {
    "dsn": "pg_dsn",
    "schema": "pg_schema",
    "bootstrap": "kafka_bootstrap",
    "topic": "topic",
    "group": "consumer_group",
    "dlq_topic": "dlq_topic",
    "batch_size": "batch_size",
    "writers": "store_writers",
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        # Commands find their settings on ``args`` (consume needs more than the database).
        args.settings = StoreSettings.from_env(**{f: getattr(args, a, None) for a, f in FLAG_FIELDS.items()})
        if args.check_config:
            if args.command == "consume":
                args.settings.consume_settings()
            emit({"event": "config", "command": args.command, "settings": args.settings.describe()})
            return 0
        result = COMMANDS[args.command](args, args.settings.target)
    except (ValueError, LookupError, OSError) as exc:
        return _failed(args.command, exc, 2)
    except psycopg.Error as exc:
        return _failed(args.command, exc, 1)
    if result.get("event") != "summary":
        result = {"event": "summary", "command": args.command, "ok": True, **result}
    emit(result)
    return 0


if __name__ == "__main__":
    logs.configure("workloads.store")  # as a program only: tests calling main() keep their capture
    sys.exit(main())
