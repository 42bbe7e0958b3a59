#!/usr/bin/python3
"""Exports the seeds' attention modules (../shared/seeds/000-004) to ONNX.

Run with Debian's python3-torch 1.13 + python3-onnx (/usr/bin/python3):

    /usr/bin/python3 test/onnx/export_seeds.py [OUTDIR]   # default test/onnx/models
    /usr/bin/python3 test/onnx/export_seeds.py --bench OUTDIR  # bench sizes

For each module, at small static sizes (odd sequence lengths), it writes
NAME.onnx (torch.onnx.export, opset 14..17 as listed), NAME.in<i>.npy (the
fixed inputs, seeded) and NAME.out<i>.npy (PyTorch's outputs on them, f32).
The modules are the seeds' code as written there, in eval mode (dropout
off); the only changes are noted per module. The output is deterministic:
rerunning rewrites the same bytes (docs/onnx.md, "Test models").
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiHeadAttentionAlt(nn.Module):
    """Seed 004: combined QKV projection, causal mask buffer (triu)."""

    def __init__(self, d_in, d_out, num_heads, block_size, dropout=0.0, qkv_bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.block_size = block_size
        self.head_dim = d_out // num_heads
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.proj = nn.Linear(d_in, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(block_size, block_size), diagonal=1))

    def forward(self, x):
        batch_size, num_tokens, embed_dim = x.shape
        qkv = self.qkv(x)
        qkv = qkv.reshape(batch_size, num_tokens, 3, self.num_heads, self.head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        queries, keys, values = qkv.unbind(0)
        attn_scores = queries @ keys.transpose(-2, -1)
        attn_scores = attn_scores.masked_fill(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        # The seed divides by keys.shape[-1]**-0.5 (a scale of sqrt(d)); kept.
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** -0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        context_vec = attn_weights @ values
        context_vec = context_vec.transpose(1, 2)
        context_vec = context_vec.reshape(batch_size, num_tokens, embed_dim)
        return self.proj(context_vec)


class CausalAttention(nn.Module):
    """Seed 003: one head, causal mask buffer, in-place masked_fill_."""

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        self.d_out = d_out
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        b, num_tokens, d_in = x.shape
        keys = self.W_key(x)
        queries = self.W_query(x)
        values = self.W_value(x)
        attn_scores = queries @ keys.transpose(1, 2)
        attn_scores.masked_fill_(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        return attn_weights @ values


class ScaledDotProductAttention(nn.Module):
    """Seed 002: bmm attention with a boolean mask input; returns the weights too."""

    def __init__(self, dim):
        super().__init__()
        self.sqrt_dim = np.sqrt(dim)

    def forward(self, query, key, value, mask):
        score = torch.bmm(query, key.transpose(1, 2)) / self.sqrt_dim
        score.masked_fill_(mask.view(score.size()), -float("Inf"))
        attn = F.softmax(score, -1)
        context = torch.bmm(attn, value)
        return context, attn


class GroupedQueryAttention(nn.Module):
    """Seed 001: GQA on (b, n, h, d) inputs, 8 query heads, 2 K/V heads.

    The seed's einops einsum "b g h n d, b h s d -> b h n s" sums the scores
    over the groups (its output has 2 heads); this is GQA as the seed's
    reference implementation (grouped-query-attention-pytorch) means it:
    query head h*G + g reads K/V head h, written with the repeat_kv idiom
    (expand + reshape) since einops is not in Debian and torch 1.13 exports
    einsum as Einsum.
    """

    def forward(self, query, key, value):
        query = query.transpose(1, 2)  # rearrange "b n h d -> b h n d"
        key = key.transpose(1, 2)
        value = value.transpose(1, 2)
        b, hkv, s, d = key.shape
        groups = query.shape[1] // hkv
        key = key[:, :, None].expand(b, hkv, groups, s, d).reshape(b, hkv * groups, s, d)
        value = value[:, :, None].expand(b, hkv, groups, s, d).reshape(b, hkv * groups, s, d)
        scale = query.size(-1) ** 0.5
        similarity = query @ key.transpose(-2, -1)
        attention = F.softmax(similarity / scale, dim=-1)
        out = attention @ value
        return out.transpose(1, 2)  # rearrange "b h n d -> b n h d"


class GQAAttention(nn.Module):
    """Seed 000: q/k/v/out projections; group_attention without the group
    mask (the seed's group_queries is data-dependent and does not run)."""

    def __init__(self, embed_dim, num_heads, dropout=0.1):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = nn.Dropout(dropout)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, q, k, v):
        batch_size, seq_len, embed_dim = q.size()
        q = self.q_proj(q).view(batch_size, seq_len, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(k).view(batch_size, -1, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(v).view(batch_size, -1, self.num_heads, self.head_dim).transpose(1, 2)
        attn_scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        attn_probs = F.softmax(attn_scores, dim=-1)
        attn_probs = self.dropout(attn_probs)
        context = torch.matmul(attn_probs, v)
        context = context.transpose(1, 2).contiguous().view(batch_size, seq_len, embed_dim)
        return self.out_proj(context)


def bench_models():
    """The benchmark's sizes (bench/onnx_cpu.sh): seed 004 with its
    projections, seed 001's attention alone and seed 000 with its
    projections; not committed."""
    g = torch.Generator().manual_seed(99)
    torch.manual_seed(7)
    yield ("mha004", MultiHeadAttentionAlt(512, 512, num_heads=8, block_size=512),
           (torch.randn(1, 512, 512, generator=g),), ["x"], ["y"], 17)
    yield ("gqa001", GroupedQueryAttention(),
           (torch.randn(1, 512, 8, 64, generator=g), torch.randn(1, 512, 2, 64, generator=g),
            torch.randn(1, 512, 2, 64, generator=g)), ["query", "key", "value"], ["out"], 17)
    # Seed 000 with its four projections at a head dim the GPU kernels take
    # (the committed model's is 8); small enough for the device carry.
    yield ("gqa000", GQAAttention(256, 4),
           tuple(torch.randn(1, 256, 256, generator=g) for _ in range(3)), ["q", "k", "v"], ["out"], 16)


def models():
    """(name, module, inputs, input names, output names, opset)."""
    g = torch.Generator().manual_seed(1234)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    torch.manual_seed(123)
    yield ("mha004", MultiHeadAttentionAlt(32, 32, num_heads=4, block_size=16),
           (randn(2, 13, 32),), ["x"], ["y"], 17)
    yield ("causal003", CausalAttention(24, 16, context_length=16, dropout=0.0),
           (randn(2, 11, 24),), ["x"], ["context"], 14)
    mask = torch.rand(3, 9, 9, generator=g) < 0.3
    mask[:, :, 0] = False  # every query sees at least one key (no NaN rows)
    yield ("sdpa002", ScaledDotProductAttention(16),
           (randn(3, 9, 16), randn(3, 9, 16), randn(3, 9, 16), mask),
           ["query", "key", "value", "mask"], ["context", "attn"], 15)
    yield ("gqa001", GroupedQueryAttention(),
           (randn(1, 10, 8, 8), randn(1, 10, 2, 8), randn(1, 10, 2, 8)),
           ["query", "key", "value"], ["out"], 17)
    yield ("gqa000", GQAAttention(32, 4),
           (randn(2, 12, 32), randn(2, 12, 32), randn(2, 12, 32)),
           ["q", "k", "v"], ["out"], 16)
    # Seed 004 at batch 1: Split + Squeeze leave [1, 1, H, S, D] reshapes
    # that once kept the attention from being raised (docs/onnx.md).
    yield ("mha004b1", MultiHeadAttentionAlt(32, 32, num_heads=4, block_size=16),
           (randn(1, 13, 32),), ["x"], ["y"], 17)


def main():
    args = [a for a in sys.argv[1:] if a != "--bench"]
    out = args[0] if args else os.path.join(os.path.dirname(__file__), "models")
    os.makedirs(out, exist_ok=True)
    for name, module, inputs, in_names, out_names, opset in (
            bench_models() if "--bench" in sys.argv else models()):
        module.eval()
        with torch.no_grad():
            results = module(*[t.clone() for t in inputs])
            if isinstance(results, torch.Tensor):
                results = (results,)
            path = os.path.join(out, name + ".onnx")
            torch.onnx.export(module, tuple(t.clone() for t in inputs), path,
                              input_names=in_names, output_names=out_names,
                              opset_version=opset, do_constant_folding=False)
        for i, t in enumerate(inputs):
            np.save(os.path.join(out, "%s.in%d.npy" % (name, i)), t.numpy())
        for i, t in enumerate(results):
            np.save(os.path.join(out, "%s.out%d.npy" % (name, i)), t.numpy().astype(np.float32))
        print("wrote", path)


if __name__ == "__main__":
    main()
