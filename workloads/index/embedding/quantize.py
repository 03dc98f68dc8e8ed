"""The int8 form of the MiniLM graph: dynamic quantization of the weight matrices only, per channel.

Why this recipe: naive dynamic quantization (one scale per tensor, every MatMul including
the attention's Q·Kᵀ and softmax·V) moved vectors to cosine 0.958 of fp32 on real CVE text.
One scale per output channel keeps the weights' range per neuron, and ``MatMulConstBOnly``
leaves the two activation-by-activation products of attention in fp32, and the
feed-forward output projections (fed by GELU, whose outputs quantize worst) stay fp32 too.
Measured on real CVE documents (bench/RESULTS.md): document cosine to fp32 ≥ 0.99 and hit@5
unchanged, but top-10 neighbour overlap about 0.93, under the 0.95 asked for — which is why
``fp32`` stays the default and ``int8`` is opt-in.  Quality is checked, not assumed: tests/index/test_embedding_quality.py and
``python -m bench.embedding`` compare top-10 neighbours and question hit@5 with fp32.

Quantizing takes a few seconds, so the result is cached under ``cache_dir`` keyed by a hash
of the recipe, the onnxruntime version and the fp32 graph; a read-only or missing cache dir
falls back to a temporary directory (the model then lives in memory only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

KEEP_FP32 = ["ffn_out.w"]  # the 1536->384 projections: GELU outputs quantize worst
RECIPE: dict[str, object] = {
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
    "op_types": ["MatMul"],
    "extra_options": {"MatMulConstBOnly": True},
    "keep_fp32": KEEP_FP32,
}


def recipe_key(fp32: bytes) -> str:
    """What the cached file depends on: the recipe, onnxruntime's quantizer and the graph itself."""
    digest = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode())
    digest.update(ort.__version__.encode())
    digest.update(hashlib.sha256(fp32).digest())
    return digest.hexdigest()[:16]


def int8_model(fp32: bytes, cache_dir: Path | None) -> bytes:
    """The serialized int8 model for the serialized fp32 ``fp32``, from the cache when there."""
    key = recipe_key(fp32)
    cached = cache_dir / f"minilm-int8-{key}.onnx" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    model = _quantize(fp32)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(model)
            partial.replace(cached)  # atomic: a concurrent reader sees all or nothing
        except OSError as err:  # read-only root fs, full disk: keep it in memory
            log.info("int8 model not cached at %s: %s", cached, err)
    return model


def _quantize(fp32: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix="cverag-int8-") as tmp:
        out = Path(tmp) / "int8.onnx"
        model = onnx.load_from_string(fp32)
        quantize_dynamic(
            model,
            out,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},
            nodes_to_exclude=_kept_fp32(model, KEEP_FP32),
        )
        return out.read_bytes()


def _kept_fp32(model: onnx.ModelProto, weight_suffixes: list[str]) -> list[str]:
    """Names the MatMuls whose weight ends with one of ``weight_suffixes`` (naming every node:
    the graph builder leaves names empty, and the quantizer excludes by name)."""
    kept = []
    for node in model.graph.node:
        node.name = node.name or node.output[0]
        if node.op_type == "MatMul" and any(node.input[1].endswith(s) for s in weight_suffixes):
            kept.append(node.name)
    return kept
