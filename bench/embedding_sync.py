"""Embedding in the index sync's real path: today's 64-CVE rounds versus 512-CVE rounds and int8.

``python -m bench.embedding_sync [--documents 2000] [--queries 300]``

The texts are the sync's own documents (:func:`workloads.index.documents.build` on the store
projection of real records, every n-th of ../shared/data, all chunks), handed to
:class:`LocalEmbedder` exactly as ``IndexSync`` hands them: one ``embed`` call per round of
``batch_size`` CVEs.  Baseline (same run): rounds of 64, the sync's old default.  Then rounds
of 512 (the new default, fp32: identical vectors) and rounds of 512 with int8.  Quality of
int8 against fp32: top-10 neighbour overlap and hit@5 of title questions
(bench/embedding_quality.py).  Prints docs/s, the ratios, the load average and the
full-corpus (62,928) estimate; replaces the ``## embedding (sync path)`` section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.embedding import RECORDS, write_section
from bench.embedding_quality import agreement, documents, first_chunks, queries, vectors
from devstack import minilm
from workloads.index.documents import CveDocument
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.embedding.minilm import MiniLM

ROOT = Path(__file__).resolve().parents[1]
CORPUS = 62928


def sync_rate(embedder: LocalEmbedder, docs: list[CveDocument], round_size: int) -> tuple[float, float]:
    """(documents/s wall, documents/s CPU) embedding ``docs`` in the sync's rounds."""
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(docs), round_size):
        embedder.embed([t for d in docs[start : start + round_size] for t in d.texts])
    return len(docs) / (time.perf_counter() - wall), len(docs) / (time.process_time() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.embedding_sync", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args(argv)
    minilm.build()
    docs = documents(RECORDS, args.documents, every=max(1, CORPUS // args.documents - 1))
    fp32 = LocalEmbedder(encoder=MiniLM())
    int8 = LocalEmbedder(
        encoder=MiniLM(precision="int8", cache_dir=Path.home() / ".cache" / "cverag" / "models")
    )
    for warm in (fp32, int8):
        warm.embed(docs[0].texts)
    old = sync_rate(fp32, docs, 64)
    large = sync_rate(fp32, docs, 512)
    quant = sync_rate(int8, docs, 512)
    load = Path("/proc/loadavg").read_text().split()[:3]
    asked = queries(docs, args.queries)
    texts, questions = first_chunks(docs), [q for q, _ in asked]
    quality = agreement(
        docs,
        asked,
        (vectors(fp32.embed, texts), vectors(fp32.embed, questions)),
        (vectors(int8.embed, texts), vectors(int8.embed, questions)),
    )
    chunks = sum(len(d.texts) for d in docs)
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, load average "
        f"{' '.join(load)} after the timed runs. Reproduce: `python -m bench.embedding_sync`. {len(docs)} real "
        f"CVE documents as the sync builds them ({chunks} chunks, mean "
        f"{np.mean([len(t) for d in docs for t in d.texts]):.0f} characters), one embed call per round of CVEs.",
        "",
        "| path | docs/s wall | docs/s CPU | x baseline (wall) | 62,928 docs |",
        "| --- | ---: | ---: | ---: | ---: |",
        _row("fp32, rounds of 64 (old sync default; baseline)", old, old),
        _row("fp32, rounds of 512 (new default; identical vectors)", large, old),
        _row("int8, rounds of 512 (`CVERAG_EMBEDDING_PRECISION=int8`)", quant, old),
        "",
        *quality.lines(),
        "",
        f"Issue 13 target (>= 150 docs/s wall and >= 3.5x the old sync; overlap >= 0.95, hit@5 unchanged): "
        f"int8 {quant[0]:.1f} docs/s, {quant[0] / old[0]:.2f}x, overlap {quality.overlap10:.3f} — "
        f"{'met' if quant[0] >= 150 and quant[0] / old[0] >= 3.5 and quality.overlap10 >= 0.95 else 'missed'}. "
        f"CPU-bound ceiling on two free cores: about {2 * quant[1]:.0f} docs/s (int8), {2 * large[1]:.0f} (fp32).",
    ]
    print("\n".join(lines), flush=True)
    write_section(ROOT / "bench" / "RESULTS.md", "embedding (sync path)", lines)
    return 0


def _row(name: str, rate: tuple[float, float], baseline: tuple[float, float]) -> str:
    return (
        f"| {name} | {rate[0]:.1f} | {rate[1]:.1f} | {rate[0] / baseline[0]:.2f}x "
        f"| {CORPUS / rate[0] / 60:.1f} min |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
