"""Wrong dtypes, shapes, devices and strides raise ValueError/TypeError
naming the argument; a missing GPU raises RuntimeError. Nothing crashes."""
import numpy as np
import pytest

import attn
from conftest import make, torch

needs_torch = pytest.mark.skipif(torch is None, reason="no PyTorch")


def qkv(dtype="float32", lib="numpy", shape=(1, 4, 8, 16), kv=(1, 2, 8, 16)):
    return (make(shape, dtype, "cpu", lib, 1), make(kv, dtype, "cpu", lib, 2),
            make(kv, dtype, "cpu", lib, 3))


def raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_dtypes():
    q, k, v = qkv()
    raises(TypeError, r"^q: dtype float64", attn.attention,
           q.astype(np.float64), k, v)
    raises(TypeError, r"^k: dtype float16 differs from q's float32",
           attn.attention, q, k.astype(np.float16), v)
    raises(TypeError, r"^v: dtype int32", attn.attention, q, k,
           v.astype(np.int32))
    raises(TypeError, r"^q: expected a numpy.ndarray or torch.Tensor, got list",
           attn.attention, q.tolist(), k, v)
    raises(TypeError, r"^out: dtype float16", attn.attention, q, k, v,
           out=np.empty(q.shape, np.float16))


def test_shapes():
    q, k, v = qkv()
    raises(ValueError, r"^k: batch 2 differs from q's 1", attn.attention, q,
           np.concatenate([k, k]), v)
    raises(ValueError, r"^k: head dim 8 differs", attn.attention, q,
           k[..., :8], v)
    raises(ValueError, r"^v: heads/length", attn.attention, q, k, v[:, :, :5])
    q3 = make((1, 3, 8, 16), "float32", "cpu", "numpy", 4)
    raises(ValueError, r"^q: 3 heads are not a multiple of k's 2",
           attn.attention, q3, k, v)
    raises(ValueError, r"^q: expected rank 4", attn.attention, q[0, 0], k[0, 0],
           v[0, 0])
    raises(ValueError, r"^k: rank 3 differs from q's 4", attn.attention, q,
           k[0], v)
    raises(ValueError, r"output", attn.attention, q, k, v,
           out=np.empty((1, 4, 8, 15), np.float32))


def test_strides():
    q, k, v = qkv(shape=(1, 4, 16, 16), kv=(1, 2, 16, 16))
    raises(ValueError, r"^q: the innermost dimension must be contiguous",
           attn.attention, q.transpose(0, 1, 3, 2), k, v)
    raises(ValueError, r"^k: negative strides", attn.attention, q,
           k[:, :, ::-1], v)
    odd = np.lib.stride_tricks.as_strided(v, (1, 2, 16, 16),
                                          (2048, 1026, 64, 4))
    raises(ValueError, r"^v: strides .* not multiples", attn.attention, q, k,
           odd)


def test_options():
    q, k, v = qkv()
    raises(ValueError, r"^layout", attn.attention, q, k, v, layout="bsd")
    raises(TypeError, r"^causal", attn.attention, q, k, v, causal=1)
    raises(TypeError, r"^window", attn.attention, q, k, v, window="4")
    raises(ValueError, r"^scale: must be finite", attn.attention, q, k, v,
           scale=float("nan"))
    raises(TypeError, r"^softcap", attn.attention, q, k, v, softcap="big")
    raises(ValueError, r"^dilation", attn.attention, q, k, v, dilation=0)
    raises(ValueError, r"^kv_lengths", attn.attention, q, k, v,
           kv_lengths=[9])
    raises(TypeError, r"^kv_lengths: dtype float32", attn.attention, q, k, v,
           kv_lengths=np.array([3.0], np.float32))
    raises(ValueError, r"^num_threads", attn.Runtime, -2)


def test_compile_errors():
    raises(attn.CompileError, r"bogus", attn.compile, "gqa:b=1,bogus=2")
    raises(attn.CompileError, r".", attn.compile, "func.func @f(")
    raises(TypeError, r"^spec", attn.compile, 42)
    raises(ValueError, r"^target", attn.compile, "mha:h=2,s=8,d=16",
           target="tpu")
    kernel = attn.compile("mha:h=2,s=8,d=16")
    q = make((1, 2, 8, 16), "float32", "cpu", "numpy", 1)
    raises(ValueError, r"^kv_lengths: not an input", kernel, q, q, q,
           kv_lengths=np.ones(1, np.int32))
    ragged = attn.compile("mha:h=2,s=8,d=16,ragged")
    raises(ValueError, r"^kv_lengths: this kernel needs it", ragged, q, q, q)


def test_missing_gpu_is_runtime_error():
    if attn.cuda_available():
        pytest.skip("a GPU is present")
    kernel = attn.compile("gqa:b=1,hq=2,hkv=1,s=64,d=64,dtype=f16",
                          target="cuda")  # compiling needs no GPU
    q = make((1, 2, 64, 64), "float16", "cpu", "numpy", 1)
    k = make((1, 1, 64, 64), "float16", "cpu", "numpy", 2)
    # the message says why (no driver library, no device, ...)
    raises(RuntimeError, r"no CUDA device: \S", kernel, q, k, k)
    raises(RuntimeError, r"no CUDA device: \S", attn.PagedKvCache, 4, 16, 2,
           2, 1, 64, dtype="bfloat16", device="cuda")
    raises(RuntimeError, r"no CUDA device: \S", attn.ContiguousKvCache, 2, 8,
           1, 64, dtype="float16", device="cuda")
    assert not attn.cuda_available()


@needs_torch
def test_torch_errors():
    q, k, v = qkv(lib="torch")
    raises(TypeError, r"^q: dtype float64", attn.attention, q.double(), k, v)
    raises(TypeError, r"^k: a numpy tensor while q is a torch one",
           attn.attention, q, k.numpy(), v)
    raises(ValueError, r"^q: the innermost", attn.attention,
           q.transpose(2, 3), k, v)
    if not torch.cuda.is_available():
        return
    raises(ValueError, r"^k: on cuda while q is on cpu", attn.attention, q,
           k.cuda(), v)
    raises(ValueError, r"GPU need a CUDA kernel|cuda", attn.compile(
        "gqa:b=1,hq=4,hkv=2,s=8,d=16"), q.cuda(), k.cuda(), v.cuda())


def test_kv_cache_errors():
    cache = attn.PagedKvCache(num_pages=4, page_size=4, max_pages_per_seq=2,
                              max_sequences=2, num_kv_heads=2, head_dim=16)
    a = cache.add_sequence()
    k = make((1, 2, 9, 16), "float32", "cpu", "numpy", 1)
    raises(ValueError, r"", cache.append, [a], k, k)
    assert cache.length(a) == 0  # unchanged
    raises(TypeError, r"^seqs\[0\]: expected a SeqId", cache.append, [3], k, k)
    raises(ValueError, r"^seqs: empty", cache.append, [], k, k)
    raises(ValueError, r"^new_lengths: expected 1 values", cache.append, [a],
           k, k, new_lengths=[1, 2])
    raises(TypeError, r"^key: dtype float16", cache.append, [a],
           k.astype(np.float16), k)
    cache.free_sequence(a)
    raises(ValueError, r"sequence 0", cache.length, a)
    raises(ValueError, r"sequence 0", cache.free_sequence, a)
    raises(TypeError, r"^dtype", attn.ContiguousKvCache, 2, 8, 1, 16,
           dtype="int8")
    raises(ValueError, r"^device", attn.ContiguousKvCache, 2, 8, 1, 16,
           device="tpu")
    raises(ValueError, r"max", attn.ContiguousKvCache, 0, 8,
           1, 16)
    raises(ValueError, r"^page_layout", attn.PagedKvCache, 4, 4, 2, 2, 1, 16,
           page_layout="x")


def test_torch_default_stream_is_named_not_null(monkeypatch):
    """torch's default stream is the legacy NULL stream; NULL would make the
    C API use the kernel's own, unordered stream, so attn must pass
    CU_STREAM_LEGACY (0x1) instead, and a real stream handle unchanged."""
    torch = pytest.importorskip("torch")
    import types
    from attn import _capi, _core

    described = {"query": types.SimpleNamespace(kind="torch",
                                                memory=_capi.DEVICE)}
    for handle, expected in [(0, 0x1), (0x7f00dead, 0x7f00dead)]:
        monkeypatch.setattr(
            torch.cuda, "current_stream",
            lambda h=handle: types.SimpleNamespace(cuda_stream=h))
        assert _core._cuda_stream(described).value == expected
    host = {"query": types.SimpleNamespace(kind="numpy", memory=0)}
    assert _core._cuda_stream(host) is None
