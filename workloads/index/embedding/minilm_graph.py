"""The BERT encoder of all-MiniLM-L6-v2 written as an ONNX graph straight from its safetensors.

Exporting to ONNX normally goes through torch; here the graph is spelled out with
``onnx.helper`` (standard opset-20 operators only) and the weights are bound from the
safetensors file, so no torch is involved anywhere.  It is the arithmetic of Hugging Face's
``BertModel``: embeddings (word + position + token type 0) and LayerNorm, then per layer a
fused Q/K/V projection, scaled dot-product attention with padding masked out, output
projection, residual and LayerNorm, exact-erf GELU feed-forward, residual and LayerNorm.
The graph returns the last hidden states; pooling stays in numpy beside the tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

Array = npt.NDArray[np.float32]
OPSET = 20  # Gelu is a standard operator from opset 20


@dataclass
class _Graph:
    """Accumulates nodes and initialisers; every helper returns its output's name."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)

    def const(self, name: str, value: npt.ArrayLike, dtype: Any = np.float32) -> str:
        self.initializers.append(numpy_helper.from_array(np.array(value, dtype=dtype, order="C"), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        out = f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def linear(self, x: str, weights: dict[str, Array], prefix: str, name: str) -> str:
        """``x @ W.T + b`` with W stored transposed once, as row-major (in, out)."""
        w = self.const(f"{name}.w", weights[prefix + ".weight"].T)
        return self.op("Add", self.op("MatMul", x, w), self.const(f"{name}.b", weights[prefix + ".bias"]))

    def layer_norm(self, x: str, weights: dict[str, Array], prefix: str, eps: float) -> str:
        gamma, beta = (self.const(f"{prefix}.{p}", weights[f"{prefix}.{p}"]) for p in ("weight", "bias"))
        return self.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)


def build_graph(
    weights: dict[str, Array], hidden: int, heads: int, layers: int, eps: float
) -> onnx.ModelProto:
    """The encoder as an ONNX model: ``(input_ids, attention_mask)`` int64 [batch, seq] in, hidden states out."""
    g = _Graph()
    seq = g.op(
        "Slice", g.op("Shape", "input_ids"), g.const("one", [1], np.int64), g.const("two", [2], np.int64)
    )
    zero = g.const("zero", [0], np.int64)
    words = g.op(
        "Gather", g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"
    )
    positions = g.op(
        "Slice",
        g.const("position_embeddings", weights["embeddings.position_embeddings.weight"]),
        zero,
        seq,
        zero,
    )
    token_type = g.const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0])
    x = g.layer_norm(
        g.op("Add", g.op("Add", words, positions), token_type), weights, "embeddings.LayerNorm", eps
    )
    # Padding keys get the most negative float, so softmax gives them zero weight (as in HF).
    padding = g.op("Sub", g.const("one_f", 1.0), g.op("Cast", "attention_mask", to=TensorProto.FLOAT))
    bias = g.op(
        "Unsqueeze",
        g.op("Mul", padding, g.const("min_f", np.finfo(np.float32).min)),
        g.const("axes12", [1, 2], np.int64),
    )
    for layer in range(layers):
        x = _encoder_layer(g, x, bias, weights, f"encoder.layer.{layer}.", hidden, heads, eps)
    graph = helper.make_graph(
        [*g.nodes, helper.make_node("Identity", [x], ["last_hidden_state"])],
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
            for n in ("input_ids", "attention_mask")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden])],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9  # the newest IR every onnxruntime of the last two years loads
    return model


def _encoder_layer(
    g: _Graph, x: str, bias: str, weights: dict[str, Array], p: str, hidden: int, heads: int, eps: float
) -> str:
    size = hidden // heads
    qkv_weights = {
        "qkv.weight": np.concatenate(
            [weights[f"{p}attention.self.{n}.weight"] for n in ("query", "key", "value")]
        ),
        "qkv.bias": np.concatenate(
            [weights[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")]
        ),
    }
    qkv = g.linear(x, qkv_weights, "qkv", p + "qkv")
    qkv = g.op(
        "Transpose",
        g.op("Reshape", qkv, g.const(p + "qkv_shape", [0, 0, 3, heads, size], np.int64)),
        perm=[2, 0, 3, 1, 4],
    )
    # A scalar Gather drops the axis: q, k, v are each [batch, heads, seq, size].
    q, k, v = (g.op("Gather", qkv, g.const(f"{p}index{i}", i, np.int64), axis=0) for i in range(3))
    scores = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))
    scores = g.op("Add", g.op("Mul", scores, g.const(p + "scale", 1.0 / np.sqrt(size))), bias)
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
    context = g.op(
        "Reshape",
        g.op("Transpose", context, perm=[0, 2, 1, 3]),
        g.const(p + "hidden_shape", [0, 0, hidden], np.int64),
    )
    attended = g.op("Add", g.linear(context, weights, p + "attention.output.dense", p + "attn_out"), x)
    x = g.layer_norm(attended, weights, p + "attention.output.LayerNorm", eps)
    inner = g.op("Gelu", g.linear(x, weights, p + "intermediate.dense", p + "ffn_in"))
    out = g.op("Add", g.linear(inner, weights, p + "output.dense", p + "ffn_out"), x)
    return g.layer_norm(out, weights, p + "output.LayerNorm", eps)
