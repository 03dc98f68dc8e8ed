"""``POST /v1/ask`` overhead without a language model, at 20 concurrent clients.

``python -m bench.ask [--schema cverag_demo] [--clients 20] [--requests 10]``

Runs against the store ``make demo`` filled (62,928 records).  Every client sends
``--requests`` questions one after another; all clients run at once.  Baseline in the same
run: the same clients sending the same texts to ``/v1/search`` (retrieval alone), so the
difference is what answering adds: reading the full records and facts, building the answer.
Results replace the ``## ask`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.rag_server import machine_line, percentile, queries, serving, settings_for, write
from devstack import postgres
from workloads.index.embedding.local import LocalEmbedder
from workloads.store.db import StoreTarget


def _load(
    url: str, path: str, field: str, texts: list[str], clients: int, per_client: int
) -> tuple[list[float], float]:
    def client(n: int) -> list[float]:
        times = []
        with httpx.Client(base_url=url, timeout=300) as http:
            for i in range(per_client):
                started = time.perf_counter()
                http.post(path, json={field: texts[(n * per_client + i) % len(texts)]}).raise_for_status()
                times.append(time.perf_counter() - started)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    return [t for r in results for t in r], time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ask", description=__doc__.splitlines()[0])
    parser.add_argument("--schema", default="cverag_demo")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="per client")
    args = parser.parse_args(argv)
    dsn = postgres.ensure_running()[0].dsn
    # Questions that name no CVE id: /v1/ask then retrieves exactly as /v1/search does, so the
    # difference is the answer itself (an id question would skip retrieval and look cheaper).
    texts = [t for t in queries(dsn, args.schema) if not t.startswith("What is CVE-")]
    settings = settings_for(StoreTarget(dsn, args.schema), db_pool_size=16)
    rows = []
    with serving(settings, LocalEmbedder()) as url:
        _load(url, "/v1/search", "query", texts, 4, len(texts) // 4)  # warm-up: caches, name catalog, pools
        _load(url, "/v1/ask", "question", texts, 4, len(texts) // 4)
        measured = {
            "search": _load(url, "/v1/search", "query", texts, args.clients, args.requests),
            "ask": _load(url, "/v1/ask", "question", texts, args.clients, args.requests),
        }
    for name, (times, wall) in measured.items():
        rows.append(
            f"| `/v1/{name}` | {len(times)} | {percentile(times, 50) * 1000:.0f} | "
            f"{percentile(times, 95) * 1000:.0f} | {len(times) / wall:.1f} |"
        )
    overhead = percentile(measured["ask"][0], 50) - percentile(measured["search"][0], 50)
    ratio = percentile(measured["ask"][0], 50) / percentile(measured["search"][0], 50)
    write(
        "ask",
        [
            machine_line(),
            f"Reproduce: `make demo`, then `python -m bench.ask`; {args.clients} concurrent clients x {args.requests} "
            "requests, no LLM configured (grounded answers), store of the demo (62,928 records); questions that name "
            "no CVE id (vendor/product questions, paraphrased titles), after one warm-up pass of each endpoint.",
            "",
            "| endpoint | requests | p50 ms | p95 ms | requests/s |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Answer overhead over retrieval alone (baseline, same run): **{overhead * 1000:+.0f} ms at p50** "
            f"(ask / search = {ratio:.2f}x).",
        ],
    )
    print("\n".join(rows), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
