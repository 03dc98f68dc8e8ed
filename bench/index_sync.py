"""Incremental index sync after a 1,000-record delta: only documents whose text changed are embedded.

``python -m bench.index_sync [--records 1000] [--text-changes 100]``

A fresh store gets ``--records`` real records (every n-th of ../shared/data), and a full
sync embeds them all: that is the same-run baseline.  Then a delta of the same number of
records arrives: ``--text-changes`` of them with a new description, the rest with only new
references and a new ``dateUpdated`` (what most real updates change).  The delta sync must
embed exactly the changed ones; a third sync must embed nothing.  Results replace the
``## index sync`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from bench.rag_server import machine_line, write
from devstack import postgres
from devstack.corpus import edited, sample
from devstack.corpus import write as write_records
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.sync import IndexSync, SyncReport
from workloads.store.db import StoreTarget
from workloads.store.migrate import migrate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.index_sync", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--text-changes", type=int, default=100)
    args = parser.parse_args(argv)
    dsn = postgres.ensure_running()[0].dsn
    target = StoreTarget(dsn, f"bench_sync_{uuid.uuid4().hex[:8]}")
    migrate(target)
    docs = [d for d in sample(SHARED, 62928 // args.records) if d["cveMetadata"]["state"] == "PUBLISHED"][
        : args.records
    ]
    write_records(target, docs)
    sync = IndexSync(
        target,
        f"pgvector:{target.schema}.cve_embeddings",
        LocalEmbedder(),
        PgVectorBackend(PgVectorConfig(dsn=dsn, schema=target.schema)),
    )
    try:
        full = sync.run_once()
        delta = [
            edited(d, description=d["containers"]["cna"]["descriptions"][0]["value"] + " Updated advisory.")
            if n < args.text_changes
            else edited(d, references=[{"url": f"https://example.org/{n}"}])
            for n, d in enumerate(docs)
        ]
        write_records(target, delta)
        incremental = sync.run_once()
        again = sync.run_once()
    finally:
        sync.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(target.schema)))
    rows = [
        _row("full sync (baseline)", full),
        _row(f"delta of {len(delta)} records", incremental),
        _row("sync again", again),
    ]
    ratio = incremental.seconds / full.seconds
    write(
        "index sync",
        [
            machine_line(),
            f"Reproduce: `python -m bench.index_sync`; {len(docs)} real records, pgvector, local MiniLM. The delta "
            f"changes the description of {args.text_changes} records and only references/dateUpdated of the others.",
            "",
            "| run | CVEs selected | embedded | unchanged (hash) | seconds |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Delta sync / full sync: **{ratio:.2f}x** the time; embedded {incremental.embedded} of {len(delta)} "
            f"(expected {args.text_changes}).",
        ],
    )
    print("\n".join(rows), flush=True)
    return 0 if incremental.embedded == args.text_changes and again.embedded == 0 else 1


def _row(name: str, report: SyncReport) -> str:
    return f"| {name} | {report.selected} | {report.embedded} | {report.unchanged} | {report.seconds:.1f} |"


if __name__ == "__main__":
    raise SystemExit(main())
