"""precision@5 on product and vendor questions: hybrid vs full-text-only vs vector-only.

``python -m bench.product_quality [--store cverag_demo] [--every 25] [--per-kind 40]``

Two stores, each with questions generated from its own records (devstack/product_questions.py):

* the store ``make demo`` filled (62,928 records), with whatever part of it is indexed
  (the vector index *partial*: ``make demo`` embeds 500 by default);
* a subset store of every ``--every``-th shared record, written through the store's own write
  path and indexed *completely* by the real sync with the local MiniLM (a complete index of
  62,928 documents takes too long on this machine to build per run).

Results replace the ``## product questions`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import psycopg
from psycopg import sql

from bench.rag_server import machine_line, settings_for, write
from devstack import postgres
from devstack.corpus import write as write_records
from devstack.product_questions import Precision, build, evaluate
from workloads.index.backends.pgvector_table import PgVectorBackend, PgVectorConfig
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.sync import IndexSync
from workloads.rag.service import RagService
from workloads.store.db import StoreTarget
from workloads.store.enrichment import load_kev
from workloads.store.migrate import migrate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MODES = ("hybrid", "lexical", "vector")


def subset_store(dsn: str, every: int, embedder: LocalEmbedder) -> StoreTarget:
    """Every ``every``-th shared record, fully indexed (reused when already complete)."""
    target = StoreTarget(dsn, f"bench_products_e{every}")
    migrate(target)
    with psycopg.connect(dsn) as conn:
        held = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(target.schema, "cves")))
        row = held.fetchone()
    if not row or not row[0]:
        with gzip.open(DATA / "cve-records.jsonl.gz") as stream:
            docs = [json.loads(line) for n, line in enumerate(stream) if n % every == 0]
        write_records(target, docs)
        load_kev(target, str(DATA / "kev.json"))
    backend = PgVectorBackend(PgVectorConfig(dsn=dsn, schema=target.schema))
    sync = IndexSync(target, f"pgvector:{target.schema}.cve_embeddings", embedder, backend, batch_size=64)
    report = sync.run_once()
    print(f"{target.schema}: index complete={report.complete}, {report.embedded} embedded now", flush=True)
    sync.close()
    backend.close()
    return target


def _indexed(dsn: str, schema: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM {c} WHERE state <> 'REJECTED'), (SELECT count(DISTINCT split_part(id, '#', 1)) FROM {e})"
            ).format(c=sql.Identifier(schema, "cves"), e=sql.Identifier(schema, "cve_embeddings"))
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _measure(
    target: StoreTarget, embedder: LocalEmbedder, per_kind: int
) -> tuple[int, dict[str, list[Precision]]]:
    service = RagService(settings_for(target), embedder=embedder)
    try:
        with service.pool.connection() as conn:
            questions = build(conn, per_kind)
        return len(questions), {m: evaluate(service.retriever, questions, m) for m in MODES}  # type: ignore[arg-type]
    finally:
        service.vectors.close()
        service.pool.close()


def _rows(label: str, results: dict[str, list[Precision]]) -> list[str]:
    by_kind: dict[str, dict[str, Precision]] = {}
    for mode, values in results.items():
        for p in values:
            by_kind.setdefault(p.kind, {})[mode] = p
    rows = []
    for kind, modes in sorted(by_kind.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        h, lx, v = modes["hybrid"], modes["lexical"], modes["vector"]
        rows.append(
            f"| {label} | {kind} | {h.questions} | {h.ceiling:.3f} | **{h.precision:.3f}** ({h.at_ceiling:.0%}) | "
            f"{lx.precision:.3f} ({lx.at_ceiling:.0%}) | {v.precision:.3f} ({v.at_ceiling:.0%}) |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.product_quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--store", default="cverag_demo")
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--per-kind", type=int, default=40)
    args = parser.parse_args(argv)
    dsn = postgres.ensure_running()[0].dsn
    embedder = LocalEmbedder()
    rows: list[str] = []
    stores: list[tuple[str, StoreTarget]] = [("partial", StoreTarget(dsn, args.store))]
    stores.append(("complete", subset_store(dsn, args.every, embedder)))
    notes = []
    for kind, target in stores:
        records, indexed = _indexed(dsn, target.schema)
        label = f"{target.schema}: {records:,} records, {indexed:,} indexed ({kind})"
        count, results = _measure(target, embedder, args.per_kind)
        notes.append(f"{label}: {count} questions")
        rows += _rows(label, results)
        print("\n".join(rows[-7:]), flush=True)
    write(
        "product questions",
        [
            machine_line(),
            f"Reproduce: `python -m bench.product_quality` (after `make demo`). {'; '.join(notes)}.",
            "Questions generated from each store's own CNA names (devstack/product_questions.py); relevant = "
            "records whose normalised vendor/product arrays hold the name (independent of the vocabulary under "
            "test). Cells: mean precision@5 (share of questions at their ceiling).",
            "",
            "| store | kind | questions | ceiling min(relevant,5)/5 | hybrid | baseline: full text only | "
            "baseline: vector only |",
            "|---|---|---:|---:|---:|---:|---:|",
            *rows,
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
