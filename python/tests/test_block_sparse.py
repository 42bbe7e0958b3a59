"""Block-sparse masks from Python: attn.attention(..., block_mask=(
kv_num_blocks, kv_indices, block_size)), FlexAttention's BlockMask tensors,
against a float64 reference, and the run-time check of the lists."""
import numpy as np
import pytest

import attn
from conftest import assert_close, make, to_f64


def reference(q, k, v, num, idx, bq, bk, causal):
    """float64 attention where query i sees key j only if block j // bk is
    listed for block i // bq (and j <= i when causal); empty rows give 0."""
    q, k, v = to_f64(q), to_f64(k), to_f64(v)
    hq, hkv, sq, d = q.shape[1], k.shape[1], q.shape[2], q.shape[3]
    skv = k.shape[2]
    k, v = (np.repeat(x, hq // hkv, axis=1) for x in (k, v))
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(d)
    allowed = np.zeros(s.shape, dtype=bool)
    for b in range(s.shape[0]):
        for h in range(hq):
            bi, hi = min(b, num.shape[0] - 1), min(h, num.shape[1] - 1)
            for i in range(sq):
                blocks = idx[bi, hi, i // bq, :num[bi, hi, i // bq]]
                for blk in blocks:
                    allowed[b, h, i, blk * bk:(blk + 1) * bk] = True
    if causal:
        allowed &= np.tril(np.ones((sq, skv), dtype=bool))
    s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.where(allowed, np.exp(s - m), 0)
    denom = e.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", e / np.where(denom > 0, denom, 1), v)


def lists(shape, kv_blocks, density, seed):
    rng = np.random.default_rng(seed)
    num = np.zeros(shape[:3], dtype=np.int32)
    idx = np.full(shape, -1, dtype=np.int32)
    for pos in np.ndindex(*shape[:3]):
        listed = np.flatnonzero(rng.random(kv_blocks) < density)
        num[pos] = len(listed)
        idx[pos][:len(listed)] = listed
    return num, idx


@pytest.mark.parametrize("heads", [1, 4])
def test_block_mask_matches_float64(heads):
    q = make((2, 4, 100, 32), "float32", "cpu", "numpy", 1)
    k = make((2, 2, 150, 32), "float32", "cpu", "numpy", 2)  # GQA 2:1
    v = make((2, 2, 150, 32), "float32", "cpu", "numpy", 3)
    num, idx = lists((1, heads, 4, 5), 5, 0.5, 4)
    num[0, 0, 0] = 0  # an empty query block gives exact zeros
    out = attn.attention(q, k, v, causal=True, block_mask=(num, idx, (32, 32)))
    ref = reference(q, k, v, num, idx, 32, 32, causal=True)
    assert_close(out, ref, "float32")
    assert np.all(to_f64(out)[:, 0, :32] == 0)


def test_unsorted_indices_are_an_error_naming_kv_indices():
    q = make((1, 1, 64, 16), "float32", "cpu", "numpy", 5)
    k = make((1, 1, 64, 16), "float32", "cpu", "numpy", 6)
    num = np.array([[[2]]], dtype=np.int32)
    idx = np.array([[[[1, 0, -1, -1]]]], dtype=np.int32)
    with pytest.raises(ValueError, match="kv_indices: value 0 at"):
        attn.attention(q, k, k, block_mask=(num, idx, (64, 16)))
