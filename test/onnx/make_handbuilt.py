#!/usr/bin/python3
"""Hand-built ONNX models for attn-import-onnx's tests (python3-onnx's helper).

torch 1.13 cannot export these: ONNX's Attention (opset 23), ONNX Runtime's
com.microsoft MultiHeadAttention and GroupQueryAttention, and the broken
models the error tests read. References are float64 NumPy attention (the
ops' documented semantics), stored as f32 .npy next to each model:

    /usr/bin/python3 test/onnx/make_handbuilt.py [OUTDIR]   # default test/onnx/models

Deterministic (seeded); rerunning rewrites the same bytes.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

F = TensorProto.FLOAT


def attention(q, k, v, scale, causal=False, keep=None, bias=None):
    """[B, H, S, D] float64 attention; K/V heads repeated for GQA; causal
    aligned to the upper left (query i sees keys j <= i)."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    if bias is not None:
        s = s + bias
    if causal:
        i = np.arange(s.shape[2])[:, None]
        j = np.arange(s.shape[3])[None, :]
        s = np.where(j > i, -np.inf, s)
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    s = s - s.max(-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v)


def heads(x, h):  # [B, S, H*D] -> [B, H, S, D]
    b, s, e = x.shape
    return x.reshape(b, s, h, e // h).transpose(0, 2, 1, 3)


def merge(x):  # [B, H, S, D] -> [B, S, H*D]
    b, h, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def save(out, name, graph, opsets, inputs, outputs):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    onnx.save(model, os.path.join(out, name + ".onnx"))
    for i, x in enumerate(inputs):
        np.save(os.path.join(out, "%s.in%d.npy" % (name, i)), x)
    for i, x in enumerate(outputs):
        np.save(os.path.join(out, "%s.out%d.npy" % (name, i)), x.astype(np.float32))
    print("wrote", name)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "models")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(2026)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)

    # ONNX Attention, opset 23, 4-D GQA (4 query heads, 2 KV heads),
    # Sq != Skv, causal, the default scale.
    q, k, v = r(2, 4, 9, 8), r(2, 2, 11, 8), r(2, 2, 11, 8)
    node = helper.make_node("Attention", ["Q", "K", "V"], ["Y"], name="attn", is_causal=1)
    g = helper.make_graph([node], "attention23", [vi("Q", F, q.shape), vi("K", F, k.shape), vi("V", F, v.shape)],
                          [vi("Y", F, [2, 4, 9, 8])])
    save(out, "attention23", g, [("", 23)], [q, k, v], [attention(q, k, v, 8 ** -0.5, causal=True)])

    # Attention, 3-D inputs with head counts and a boolean mask (true = attend).
    q, k, v = r(2, 7, 32), r(2, 10, 16), r(2, 10, 16)
    keep = rng.random((2, 1, 7, 10)) < 0.7
    keep[..., 0] = True
    node = helper.make_node("Attention", ["Q", "K", "V", "mask"], ["Y"], name="attn3d", q_num_heads=4,
                            kv_num_heads=2, scale=0.3)
    g = helper.make_graph([node], "attention23_3d",
                          [vi("Q", F, q.shape), vi("K", F, k.shape), vi("V", F, v.shape),
                           vi("mask", TensorProto.BOOL, keep.shape)], [vi("Y", F, [2, 7, 32])])
    ref = merge(attention(heads(q, 4), heads(k, 2), heads(v, 2), 0.3, keep=keep))
    save(out, "attention23_3d", g, [("", 23)], [q, k, v, keep], [ref])

    # com.microsoft MultiHeadAttention: causal (unidirectional), 4 heads.
    q, k, v = r(2, 7, 32), r(2, 7, 32), r(2, 7, 32)
    node = helper.make_node("MultiHeadAttention", ["query", "key", "value"], ["output"], name="mha",
                            domain="com.microsoft", num_heads=4, unidirectional=1)
    g = helper.make_graph([node], "ms_mha", [vi("query", F, q.shape), vi("key", F, k.shape), vi("value", F, v.shape)],
                          [vi("output", F, [2, 7, 32])])
    ref = merge(attention(heads(q, 4), heads(k, 4), heads(v, 4), 8 ** -0.5, causal=True))
    save(out, "ms_mha", g, [("", 17), ("com.microsoft", 1)], [q, k, v], [ref])

    # com.microsoft GroupQueryAttention: prefill, 8 query heads, 2 KV heads.
    q, k, v = r(1, 9, 64), r(1, 9, 16), r(1, 9, 16)
    seqlens = helper.make_tensor("seqlens_k", TensorProto.INT32, [1], [8])
    total = helper.make_tensor("total_sequence_length", TensorProto.INT32, [], [9])
    node = helper.make_node("GroupQueryAttention", ["query", "key", "value", "", "", "seqlens_k",
                                                    "total_sequence_length"], ["output", "present_key",
                                                                               "present_value"],
                            name="gqa", domain="com.microsoft", num_heads=8, kv_num_heads=2)
    g = helper.make_graph([node], "ms_gqa", [vi("query", F, q.shape), vi("key", F, k.shape), vi("value", F, v.shape)],
                          [vi("output", F, [1, 9, 64])], initializer=[seqlens, total])
    ref = merge(attention(heads(q, 8), heads(k, 2), heads(v, 2), 8 ** -0.5, causal=True))
    save(out, "ms_gqa", g, [("", 17), ("com.microsoft", 1)], [q, k, v], [ref])

    # Error cases: an op attn does not import, mismatched MatMul shapes, and
    # an output declared with another shape than the graph computes.
    x = r(2, 3)
    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="contract", equation="ij,ij->i")
    g = helper.make_graph([node], "unsupported", [vi("x", F, [2, 3])], [vi("y", F, [2])])
    save(out, "bad_unsupported_op", g, [("", 17)], [], [])
    w = helper.make_tensor("w", F, [4, 5], np.ones(20, np.float32))
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    g = helper.make_graph([node], "mismatch", [vi("x", F, [2, 3])], [vi("y", F, [2, 5])], initializer=[w])
    save(out, "bad_matmul_shapes", g, [("", 17)], [], [])
    node = helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[1, 0])
    g = helper.make_graph([node], "declared", [vi("x", F, [2, 3])], [vi("y", F, [2, 3])])
    save(out, "bad_output_shape", g, [("", 17)], [], [])
    node = helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[1, 0])
    g = helper.make_graph([node], "dynamic", [vi("x", F, ["batch", 3])], [vi("y", F, [3, "batch"])])
    save(out, "bad_dynamic_dim", g, [("", 17)], [], [])


if __name__ == "__main__":
    main()
