"""attn.attention on NumPy arrays and PyTorch tensors vs a float64
reference (conftest.reference), on fresh random inputs with odd sizes."""
import numpy as np
import pytest

import attn
from conftest import assert_close, make, reference, torch

# (b, hq, hkv, sq, skv, d, dv)
SHAPES = {
    "gqa_odd": (2, 4, 2, 33, 47, 16, 16),
    "mqa_decode": (3, 3, 1, 1, 100, 64, 64),
    "mha_dv": (1, 2, 2, 17, 17, 32, 24),
}
OPTIONS = {
    "plain": {},
    "causal": {"causal": True},
    "causal_bottom_right": {"causal": True, "q_offset": "skv-sq"},
    "window_softcap_scale": {"window": (5, 3), "softcap": 20.0, "scale": 0.2},
    "dilated_global": {"window": 16, "dilation": 2, "global_tokens": 2},
}


def libs_for(device):
    if device == "cuda":
        return [("torch", "float16"), ("torch", "bfloat16")]
    libs = [("numpy", "float32"), ("numpy", "float16")]
    if torch is not None:
        libs += [("torch", "float32"), ("torch", "bfloat16")]
    return libs


def run_case(device, lib, dtype, shape, options, seed, layout="bhsd"):
    b, hq, hkv, sq, skv, d, dv = shape
    if device == "cuda":  # the CUDA kernels' head dims (docs/gpu.md)
        d = dv = 64
    opts = dict(options)
    if opts.get("q_offset") == "skv-sq":
        opts["q_offset"] = skv - sq
    q = make((b, hq, sq, d), dtype, device, lib, seed)
    k = make((b, hkv, skv, d), dtype, device, lib, seed + 1)
    v = make((b, hkv, skv, dv), dtype, device, lib, seed + 2)
    ref, ref_lse = reference(q, k, v, **opts)
    if layout == "bshd":  # views, not copies: attn reads the strides
        tq, tk, tv = (x.transpose(1, 2) if lib == "torch" else
                      x.transpose(0, 2, 1, 3) for x in (q, k, v))
        out, lse = attn.attention(tq, tk, tv, layout="bshd", return_lse=True,
                                  **opts)
        out = out.transpose(1, 2) if lib == "torch" else out.transpose(
            0, 2, 1, 3)
    else:
        out, lse = attn.attention(q, k, v, return_lse=True, **opts)
    assert type(out) is type(q)
    if lib == "torch":
        assert out.device == q.device and out.dtype == q.dtype
    assert_close(out, ref, dtype)
    assert_close(lse, ref_lse, "float32" if dtype == "float32" else "float16")
    return q, k, v, out


# Every option on some shape and every dtype on some option, without the
# full cross product (each case compiles a kernel per dtype).
CASES = [("gqa_odd", "plain"), ("gqa_odd", "causal"),
         ("mqa_decode", "causal_bottom_right"), ("mha_dv", "causal"),
         ("gqa_odd", "window_softcap_scale"), ("mha_dv", "dilated_global")]


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_matches_reference(device, case):
    shape, option = case
    for i, (lib, dtype) in enumerate(libs_for(device)):
        run_case(device, lib, dtype, SHAPES[shape], OPTIONS[option], 100 + i)


def test_bshd_strided_views(device):
    for lib, dtype in libs_for(device):
        run_case(device, lib, dtype, (2, 4, 2, 19, 23, 16, 16),
                 {"causal": True}, 7, layout="bshd")


def test_ragged_kv_lengths(device):
    lib, dtype = libs_for(device)[0]
    q = make((3, 4, 1, 64), dtype, device, lib, 1)
    k = make((3, 2, 50, 64), dtype, device, lib, 2)
    v = make((3, 2, 50, 64), dtype, device, lib, 3)
    lengths = [50, 7, 1]
    out = attn.attention(q, k, v, kv_lengths=lengths)
    assert_close(out, reference(q, k, v, kv_lengths=lengths)[0], dtype)


def test_rank3_and_out_argument(device):
    lib, dtype = libs_for(device)[0]
    q = make((2, 9, 64), dtype, device, lib, 4)
    k = make((2, 13, 64), dtype, device, lib, 5)
    v = make((2, 13, 64), dtype, device, lib, 6)
    out = (np.full((2, 9, 64), np.nan, dtype=dtype) if lib == "numpy" else
           torch.full((2, 9, 64), float("nan"), dtype=q.dtype, device=device))
    got = attn.attention(q, k, v, out=out)
    assert got is out
    ref = reference(q[:, None], k[:, None], v[:, None])[0][:, 0]
    assert_close(out, ref, dtype)


def test_one_kernel_serves_every_size():
    # Batch and lengths are run-time sizes: every shape below runs the one
    # compiled kernel (each shape is a cached view of it, not a compile).
    rt = attn.Runtime(num_threads=2)
    q = make((1, 2, 8, 16), "float32", "cpu", "numpy", 1)
    for _ in range(3):
        attn.attention(q, q, q, runtime=rt)
    for b, sq, skv in [(1, 5, 8), (3, 7, 77), (2, 33, 1)]:
        qq = make((b, 2, sq, 16), "float32", "cpu", "numpy", 2)
        kv = make((b, 2, skv, 16), "float32", "cpu", "numpy", 3)
        out = attn.attention(qq, kv, kv, runtime=rt)
        assert_close(out, reference(qq, kv, kv)[0], "float32")
    stats = rt.cache_stats()
    assert stats["compiles"] == 1, stats
    assert stats["entries"] == 5, stats  # the kernel and four views
    assert rt.num_threads == 2


def test_compile_and_kernel_call():
    kernel = attn.compile("gqa:b=2,hq=4,hkv=2,sq=1,skv=40,d=32,ragged,lse")
    roles = [a["role"] for a in kernel.args]
    assert roles == ["query", "key", "value", "kv_lengths", "output", "lse"]
    assert kernel.compile_ms > 0 and "kv_lengths" in repr(kernel)
    q = make((2, 4, 1, 32), "float32", "cpu", "numpy", 8)
    k = make((2, 2, 40, 32), "float32", "cpu", "numpy", 9)
    v = make((2, 2, 40, 32), "float32", "cpu", "numpy", 10)
    lengths = np.array([40, 3], dtype=np.int32)
    out, lse = kernel(q, k, v, kv_lengths=lengths)
    ref, ref_lse = reference(q, k, v, kv_lengths=lengths)
    assert_close(out, ref, "float32")
    assert_close(lse, ref_lse, "float32")
    assert attn.compile("gqa:b=2,hq=4,hkv=2,sq=1,skv=40,d=32,ragged,lse") \
        is kernel


def test_compile_mlir_text_with_bias():
    mlir = """
func.func @f(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>,
             %v: tensor<1x2x8x16xf32>, %bias: tensor<1x1x8x8xf32>)
    -> tensor<1x2x8x16xf32> {
  %o = attn.attention %q, %k, %v bias(%bias : tensor<1x1x8x8xf32>)
       : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
       -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}"""
    kernel = attn.compile(mlir)
    q, k, v = (make((1, 2, 8, 16), "float32", "cpu", "numpy", s)
               for s in (1, 2, 3))
    bias = make((1, 1, 8, 8), "float32", "cpu", "numpy", 4)
    out = kernel(q, k, v, bias=bias)
    # reference with the bias added to the scaled scores
    q64, k64, v64 = (x.astype(np.float64) for x in (q, k, v))
    s = q64 @ k64.transpose(0, 1, 3, 2) / 4.0 + bias
    p = np.exp(s - s.max(-1, keepdims=True))
    assert_close(out, (p / p.sum(-1, keepdims=True)) @ v64, "float32")
