"""Helpers shared by the RAG benchmarks: an API server in a thread, a query set, percentiles,
and writing a section of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.embedding import write_section
from devstack import served
from devstack.questions import paraphrase
from workloads.index.embedding import Embedder
from workloads.index.settings import IndexSettings
from workloads.rag.api import create_app
from workloads.rag.service import RagService
from workloads.rag.settings import RagSettings
from workloads.store.db import StoreTarget

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def settings_for(target: StoreTarget, **overrides: Any) -> RagSettings:
    return RagSettings.for_index(IndexSettings.for_store(target), **{"rate_limit_per_minute": 0, **overrides})


@contextmanager
def serving(settings: RagSettings, embedder: Embedder) -> Iterator[str]:
    with served.serving(create_app(settings, RagService(settings, embedder=embedder))) as url:
        yield url


def queries(dsn: str, schema: str, per_kind: int = 20) -> list[str]:
    """Id questions, vendor/product questions and paraphrased titles from the store's rows."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT cve_id, title, vendor_products[1] FROM {} WHERE title IS NOT NULL AND cardinality(vendor_products) > 0"
                " AND state = 'PUBLISHED' ORDER BY md5(cve_id) LIMIT %s"
            ).format(sql.Identifier(schema, "cves")),
            [per_kind],
        ).fetchall()
    out = [f"What is {r[0]}?" for r in rows]
    out += [f"Which vulnerabilities affect {r[2].replace(':', ' ')}?" for r in rows]
    return out + [paraphrase(r[1]) for r in rows]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine_line() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"Run {when} on {os.cpu_count()} CPUs ({platform.platform()}); load average at the end {load} (shared machine)."


def write(name: str, lines: list[str]) -> None:
    write_section(RESULTS, name, lines)
