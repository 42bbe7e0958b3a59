"""Seed 004's MultiHeadAttentionPyTorch with its attention call replaced by
attn, checked against the original on the CPU and (with CUDA) the GPU.

The module is copied from seed 004 ("Efficient Multi-Head Attention
Implementations", based on rasbt/LLMs-from-scratch, ch03/02_bonus_efficient-
multihead-attention; Apache-2.0). The attn version differs in one line:
F.scaled_dot_product_attention(..., is_causal=True) becomes
attn.attention(..., causal=True), reading q, k, v in place as strided views
of the fused qkv projection.

    python3 examples/python/mha_seed004.py [--device cpu|cuda] [--tokens N]
"""
import argparse
import sys
import time

import torch
import torch.nn as nn

import attn


class MultiHeadAttentionPyTorch(nn.Module):  # seed 004, verbatim
    def __init__(self, d_in, d_out, num_heads, block_size, dropout=0.0,
                 qkv_bias=False):
        super().__init__()

        assert d_out % num_heads == 0, "embed_dim is indivisible by num_heads"

        self.num_heads = num_heads
        self.block_size = block_size
        self.head_dim = d_out // num_heads
        self.d_out = d_out

        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)
        self.proj = nn.Linear(d_in, d_out)
        self.dropout = dropout

        self.register_buffer(
            "mask", torch.triu(torch.ones(block_size, block_size), diagonal=1)
        )

    def forward(self, x):
        batch_size, num_tokens, embed_dim = x.shape

        # (b, num_tokens, embed_dim) --> (b, num_tokens, 3 * embed_dim)
        qkv = self.qkv(x)

        # (b, num_tokens, 3 * embed_dim) --> (b, num_tokens, 3, num_heads, head_dim)
        qkv = qkv.reshape(batch_size, num_tokens, 3, self.num_heads, self.head_dim)

        # (b, num_tokens, 3, num_heads, head_dim) --> (3, b, num_heads, num_tokens, head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)

        # (3, b, num_heads, num_tokens, head_dim) -> 3 times (b, num_heads, num_tokens, head_dim)
        queries, keys, values = qkv.unbind(0)

        use_dropout = 0. if not self.training else self.dropout
        context_vec = self.attention(queries, keys, values, use_dropout)

        # Combine heads, where self.d_out = self.num_heads * self.head_dim
        context_vec = context_vec.transpose(1, 2).contiguous().view(batch_size, num_tokens, self.d_out)

        return context_vec

    def attention(self, queries, keys, values, dropout_p):
        # The seed's call, factored out so that the subclass replaces it.
        return nn.functional.scaled_dot_product_attention(
            queries, keys, values, attn_mask=None, dropout_p=dropout_p, is_causal=True)


class MultiHeadAttentionAttn(MultiHeadAttentionPyTorch):
    """The same module; attention by attn (strided views, no copies)."""

    def attention(self, queries, keys, values, dropout_p):
        if dropout_p:
            raise ValueError("attn has no attention dropout (eval mode only)")
        return attn.attention(queries, keys, values, causal=True)


def sdpa_float64(q, k, v):
    """Causal attention in float64: the original's math where PyTorch is
    older than 2.0 (no F.scaled_dot_product_attention, e.g. Debian's 1.13)."""
    q, k, v = (x.double() for x in (q, k, v))
    s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    n = s.shape[-1]
    s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool,
                                            device=s.device), 1), float("-inf"))
    return torch.softmax(s, -1) @ v


def compare(device, tokens, dtype, batch=2, embed_dim=768, heads=12, seed=123):
    """(max |attn - original|, tolerance, ms original, ms attn)."""
    torch.manual_seed(seed)
    original = MultiHeadAttentionPyTorch(embed_dim, embed_dim, heads, tokens)
    ours = MultiHeadAttentionAttn(embed_dim, embed_dim, heads, tokens)
    ours.load_state_dict(original.state_dict())
    for m in (original, ours):
        m.to(device=device, dtype=dtype).eval()
    if not hasattr(nn.functional, "scaled_dot_product_attention"):
        original.attention = lambda q, k, v, p: sdpa_float64(q, k, v).to(q.dtype)
    x = torch.randn(batch, tokens, embed_dim, device=device, dtype=dtype)
    with torch.no_grad():
        times = []
        for m in (original, ours):
            y = m(x)  # warm-up (attn compiles its kernel here)
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            y = m(x)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1e3)
            if m is original:
                ref = y
        err = (y.double() - ref.double()).abs().max().item()
    # f32: both sides are f32 kernels; bf16: a few bf16 ulps of |out| <= ~1.
    tol = 2e-5 if dtype == torch.float32 else 3e-2
    return err, tol, times[0], times[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available()
                   and attn.cuda_available() else "cpu")
    p.add_argument("--tokens", type=int, default=256)
    a = p.parse_args()
    dtypes = [torch.float32] if a.device == "cpu" else [torch.bfloat16]
    ok = True
    for dtype in dtypes:
        err, tol, t0, t1 = compare(a.device, a.tokens, dtype)
        ok &= err <= tol
        print(f"seed 004 MHA b2 t{a.tokens} e768 h12 causal {a.device} "
              f"{str(dtype)[6:]}: max |attn - original| {err:.2e} (tolerance "
              f"{tol:g}) -> {'ok' if err <= tol else 'FAIL'}; forward "
              f"{t0:.2f} ms original, {t1:.2f} ms attn")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
