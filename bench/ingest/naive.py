"""The naive baseline: what the original system did, measured on a sample in the same run.

One message at a time: poll it, parse and normalise it (the same decoder as the store,
so only the database pattern differs), ``SELECT`` by content hash, and if that finds
nothing ``INSERT`` the version and the current row, committing per record, with Kafka's
auto-commit.  It writes into its own schema with the store's tables and indexes.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Consumer
from psycopg import sql

from workloads.store.consumer import raw_message
from workloads.store.db import StoreTarget, connect
from workloads.store.messages import Incoming, decode
from workloads.store.rows import CURRENT_COLUMNS, VERSION_COLUMNS, current_row, version_row
from workloads.store.versioning import plan

from .accounting import cpu_seconds


def _insert(table: str, columns: tuple[str, ...], upsert: bool) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    marks = sql.SQL(", ").join(sql.Placeholder() * len(columns))
    tail: sql.Composable = sql.SQL("")
    if upsert:
        sets = sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:]
        )
        tail = sql.SQL(" ON CONFLICT (cve_id) DO UPDATE SET {}").format(sets)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}){}").format(sql.Identifier(table), names, marks, tail)


def run_naive(bootstrap: str, topic: str, target: StoreTarget, sample: int) -> dict[str, Any]:
    """Ingest the first ``sample`` messages of ``topic`` the naive way; returns its rate."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"naive-{target.schema}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    insert_version = _insert("cve_versions", VERSION_COLUMNS, upsert=False)
    upsert_current = _insert("cves", CURRENT_COLUMNS, upsert=True)
    done = created = 0
    started: float | None = None
    cpu_started: tuple[float, float] | None = None
    with connect(target) as conn:
        backend = conn.info.backend_pid
        while done < sample:
            msg = consumer.poll(1.0)
            if msg is None or msg.error() is not None:
                continue
            if started is None:
                started = time.perf_counter()
                cpu_started = (time.process_time(), cpu_seconds(backend) or 0.0)
            raw = raw_message(msg)
            item = decode(raw)
            done += 1
            if not isinstance(item, Incoming):
                continue
            seen = conn.execute(
                "SELECT 1 FROM cve_versions WHERE cve_id = %s AND sha256 = %s", [item.cve_id, item.sha256]
            ).fetchone()
            if seen is None:
                new = plan([item], {}).versions[0]
                conn.execute(insert_version, version_row(new))
                conn.execute(upsert_current, current_row(new))
                created += 1
            conn.commit()
        python_cpu, backend_cpu = cpu_started or (time.process_time(), cpu_seconds(backend) or 0.0)
        cpu = time.process_time() - python_cpu + (cpu_seconds(backend) or 0.0) - backend_cpu
    consumer.close()
    seconds = time.perf_counter() - (started or time.perf_counter())
    return {
        "records": done,
        "created": created,
        "seconds": seconds,
        "records_per_s": done / seconds,
        "cpu_us_per_record": cpu / max(done, 1) * 1e6,
    }
