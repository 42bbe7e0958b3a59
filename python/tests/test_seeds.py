"""The seeds' PyTorch attention modules against the same modules with their
attention computed by attn (the seeds live in ../shared/seeds, outside the
repository: the small module definitions are copied here, attributed)."""
import math
import pathlib
import sys

import pytest

import attn
from conftest import torch

pytestmark = pytest.mark.skipif(torch is None, reason="no PyTorch")
if torch is not None:
    import torch.nn as nn
    import torch.nn.functional as F

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] /
                           "examples" / "python"))
    import mha_seed004

    class ScaledDotProductAttention(nn.Module):
        """Seed 002 ("Advanced Attention Mechanisms-I"), from
        sooftware/attentions (MIT), verbatim but for np.sqrt -> math.sqrt."""

        def __init__(self, dim: int):
            super(ScaledDotProductAttention, self).__init__()
            self.sqrt_dim = math.sqrt(dim)

        def forward(self, query, key, value, mask=None):
            score = torch.bmm(query, key.transpose(1, 2)) / self.sqrt_dim
            if mask is not None:
                score.masked_fill_(mask.view(score.size()), -float('Inf'))
            attn = F.softmax(score, -1)
            context = torch.bmm(attn, value)
            return context, attn

    class MultiHeadAttention(nn.Module):
        """Seed 003 (hacktricks, "4. Attention Mechanisms", after
        rasbt/LLMs-from-scratch ch03), verbatim but for comments."""

        def __init__(self, d_in, d_out, context_length, dropout, num_heads,
                     qkv_bias=False):
            super().__init__()
            assert (d_out % num_heads == 0), \
                "d_out must be divisible by num_heads"
            self.d_out = d_out
            self.num_heads = num_heads
            self.head_dim = d_out // num_heads
            self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.out_proj = nn.Linear(d_out, d_out)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer(
                "mask",
                torch.triu(torch.ones(context_length, context_length),
                           diagonal=1))

        def forward(self, x):
            b, num_tokens, d_in = x.shape
            keys = self.W_key(x)
            queries = self.W_query(x)
            values = self.W_value(x)
            keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
            values = values.view(b, num_tokens, self.num_heads, self.head_dim)
            queries = queries.view(b, num_tokens, self.num_heads,
                                   self.head_dim)
            keys = keys.transpose(1, 2)
            queries = queries.transpose(1, 2)
            values = values.transpose(1, 2)
            attn_scores = queries @ keys.transpose(2, 3)
            mask_bool = self.mask.bool()[:num_tokens, :num_tokens]
            attn_scores.masked_fill_(mask_bool, -torch.inf)
            attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5,
                                         dim=-1)
            attn_weights = self.dropout(attn_weights)
            context_vec = (attn_weights @ values).transpose(1, 2)
            context_vec = context_vec.contiguous().view(b, num_tokens,
                                                        self.d_out)
            context_vec = self.out_proj(context_vec)
            return context_vec

    class MultiHeadAttentionByAttn(MultiHeadAttention):
        """Seed 003's module; attention by attn on the [b, t, h, hd] views
        (layout bshd: no transposes, no copies)."""

        def forward(self, x):
            b, t, _ = x.shape
            shape = (b, t, self.num_heads, self.head_dim)
            q, k, v = (w(x).view(shape) for w in
                       (self.W_query, self.W_key, self.W_value))
            ctx = attn.attention(q, k, v, causal=True, layout="bshd")
            return self.out_proj(ctx.reshape(b, t, self.d_out))


def _tol(dtype):
    return 2e-5 if dtype == torch.float32 else 3e-2


def _dtypes(device):
    return [torch.float32] if device == "cpu" else [torch.bfloat16,
                                                     torch.float16]


def test_seed002_scaled_dot_product(device):
    for dtype in _dtypes(device):
        torch.manual_seed(2)
        d = 40 if device == "cpu" else 64  # CUDA kernels: d 64, 80, 128
        q = torch.randn(3, 21, d, device=device, dtype=dtype)
        k = torch.randn(3, 29, d, device=device, dtype=dtype)
        v = torch.randn(3, 29, d, device=device, dtype=dtype)
        module = ScaledDotProductAttention(d)
        ref, _ = module(q.double(), k.double(), v.double())
        out = attn.attention(q, k, v)  # rank 3: [B, S, D]
        assert (out.double() - ref).abs().max().item() <= _tol(dtype)
        # and the seed's boolean mask, as attn's causal structure
        causal = torch.triu(torch.ones(21, 29, dtype=torch.bool,
                                       device=device), 1).expand(3, 21, 29)
        ref, _ = module(q.double(), k.double(), v.double(), causal.clone())
        out = attn.attention(q, k, v, causal=True)
        assert (out.double() - ref).abs().max().item() <= _tol(dtype)


def test_seed003_multi_head_attention(device):
    for dtype in _dtypes(device):
        torch.manual_seed(3)
        heads = 6 if device == "cpu" else 2  # head dim 16 / 48 ... 64
        d_out = 96 if device == "cpu" else 128
        original = MultiHeadAttention(48, d_out, 64, 0.0, heads)
        ours = MultiHeadAttentionByAttn(48, d_out, 64, 0.0, heads)
        ours.load_state_dict(original.state_dict())
        x = torch.randn(2, 37, 48)
        with torch.no_grad():
            ref = original.double()(x.double())
            got = ours.to(device, dtype).eval()(x.to(device, dtype))
        assert (got.double().cpu() - ref).abs().max().item() <= 2 * _tol(dtype)


def test_seed004_multi_head_attention(device):
    for dtype in _dtypes(device):
        embed = 96 if device == "cpu" else 256  # head dim 24 / 64
        err, tol, _, _ = mha_seed004.compare(device, 67, dtype,
                                             embed_dim=embed, heads=4)
        assert err <= tol, (err, tol)
