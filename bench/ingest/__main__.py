"""Ingest benchmark: ~300,000 records, file -> feed -> Kafka -> store, and the naive baseline.

``python -m bench.ingest [--records 300000] [--partitions 3] [--batch-size 2000] [--naive-sample 5000]``

Three measured loads, each into a fresh topic and schema: the producer alone, then the
store consumer alone on the filled topic (their separate rates), and both together (the
end-to-end pipeline).  In the same run the naive approach (one message at a time, SELECT
by hash then INSERT, commit per record, as the original system did) ingests a sample of
the same messages, giving the speed-up ratio.  Results replace the ``## ingest`` section
of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from devstack import kafka, postgres, proc
from devstack.scratch import create_topic, drop_schema, unique
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

from . import dataset, report
from .naive import run_naive
from .pipeline import ROOT, Services, run_phase

SHARED = Path(os.environ.get("CVERAG_SHARED_DATA", ROOT.parent / "shared" / "data"))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--naive-sample", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schemas and topics")
    parser.add_argument("--no-results", action="store_true", help="do not rewrite bench/RESULTS.md")
    return parser.parse_args()


def fresh_store(services: Services) -> StoreTarget:
    target = StoreTarget(services.dsn, unique("bench_ingest"))
    migrate(target)
    return target


def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """The benchmark's topics hold ~1.2 GB each; leave nothing behind."""
    if topics:
        for future in AdminClient({"bootstrap.servers": bootstrap}).delete_topics(topics).values():
            with contextlib.suppress(KafkaException):
                future.result(60)


def main() -> int:
    args = arguments()
    kafka_info, _ = kafka.ensure_running()
    pg_info, _ = postgres.ensure_running()
    services = Services(kafka_info.bootstrap, pg_info.dsn, kafka_info.pid)
    work = proc.cache_dir("bench-ingest", "1")
    data, size = dataset.build(
        SHARED / "cve-records.jsonl.gz", args.records, work / f"records-{args.records}.jsonl"
    )
    print(
        f"dataset: {args.records} records, {size / 1e6:.0f} MB ({data}): the shared records, then copies"
        " renumbered CVE-Y-N -> CVE-Y-(k*10,000,000+N) to reach the live feed's size",
        file=sys.stderr,
    )
    schemas: list[StoreTarget] = []
    topics: list[str] = []
    results: dict[str, Any] = {"records": args.records, "bytes": size, "partitions": args.partitions}
    try:
        topic = create_topic(services.bootstrap, args.partitions)
        topics += [topic, f"{topic}.dlq"]
        alone = fresh_store(services)
        schemas.append(alone)
        common = {"batch_size": args.batch_size, "logs": work}
        results["producer_alone"] = run_phase(
            services, alone, topic, args.records, dataset=data, consume=False, **common
        )
        results["consumer_alone"] = run_phase(
            services, alone, topic, args.records, dataset=None, consume=True, **common
        )
        together = fresh_store(services)
        schemas.append(together)
        topic2 = create_topic(services.bootstrap, args.partitions)
        topics += [topic2, f"{topic2}.dlq"]
        results["end_to_end"] = run_phase(
            services, together, topic2, args.records, dataset=data, consume=True, **common
        )
        naive = fresh_store(services)
        schemas.append(naive)
        results["naive"] = run_naive(services.bootstrap, topic, naive, args.naive_sample)
        results["machine"] = {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load": os.getloadavg(),
        }
    finally:
        if not args.keep:
            for target in schemas:
                drop_schema(services.dsn, target.schema)
            delete_topics(services.bootstrap, topics)
    lines = report.render(results)
    print("\n".join(lines))
    print(json.dumps({"event": "summary", **report.figures(results)}))
    if not args.no_results:
        report.write_section(ROOT / "bench" / "RESULTS.md", "ingest", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
