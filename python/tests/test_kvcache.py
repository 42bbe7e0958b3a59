"""attn.PagedKvCache / ContiguousKvCache: ragged append + decode against
the float64 reference over the rows appended, stats, pools."""
import numpy as np
import pytest

import attn
from conftest import assert_close, make, reference, torch


D = 64  # a head dim of the CUDA cache kernels too


def caches(device, dtype):
    kw = dict(num_kv_heads=2, head_dim=D, dtype=dtype, device=device)
    return [attn.PagedKvCache(num_pages=12, page_size=8, max_pages_per_seq=6,
                              max_sequences=3, **kw),
            attn.PagedKvCache(num_pages=12, page_size=8, max_pages_per_seq=6,
                              max_sequences=3, page_layout="hnd", **kw),
            attn.ContiguousKvCache(max_batch=3, max_seq_len=48, **kw)]


@pytest.mark.parametrize("kind", [0, 1, 2], ids=["paged", "paged_hnd",
                                                 "contiguous"])
def test_prefill_then_decode(device, kind):
    lib, dtype = ("torch", "bfloat16") if device == "cuda" else ("numpy",
                                                                 "float32")
    cache = caches(device, dtype)[kind]
    seqs = [cache.add_sequence() for _ in range(3)]
    prompt = [20, 5, 33]
    k = make((3, 2, 33, D), dtype, device, lib, 1)
    v = make((3, 2, 33, D), dtype, device, lib, 2)
    cache.append(seqs, k, v, new_lengths=prompt)
    kt = make((3, 2, 1, D), dtype, device, lib, 3)
    vt = make((3, 2, 1, D), dtype, device, lib, 4)
    cache.append(seqs, kt, vt)
    assert [cache.length(s) for s in seqs] == [21, 6, 34]
    q = make((3, 8, 1, D), dtype, device, lib, 5)
    out, lse = cache.attention(seqs, q, causal=True, softcap=30.0,
                               return_lse=True)
    for b, n in enumerate(prompt):  # this sequence's rows, then the token
        cat = (np.concatenate if lib == "numpy" else torch.cat)
        kb = cat([k[b:b + 1, :, :n], kt[b:b + 1]], 2)
        vb = cat([v[b:b + 1, :, :n], vt[b:b + 1]], 2)
        ref, ref_lse = reference(q[b:b + 1], kb, vb, softcap=30.0)
        assert_close(out[b:b + 1], ref, dtype)
        assert_close(lse[b:b + 1], ref_lse, "float16")
    stats = cache.stats()
    assert stats["num_sequences"] == 3
    if kind < 2:
        assert stats["num_free_pages"] == 12 - (3 + 1 + 5)
    keys, _ = cache.read_pools()
    first = np.asarray(k[0, 0, 0].float().cpu() if lib == "torch" else k[0, 0, 0])
    assert any(np.array_equal(first, row) for row in
               keys.reshape(-1, D)), "appended row not in the pool"
    cache.truncate(seqs[2], 10)
    assert cache.length(seqs[2]) == 10
    cache.free_sequence(seqs[1])
    assert cache.stats()["num_sequences"] == 2
