"""Shared by the attn tests: devices, dtypes, tolerances, the float64
reference.

ATTN_TEST_DEVICES: "cpu" (default), "cuda", or "cpu,cuda" (the GPU script).
ATTN_TEST_REQUIRE_CUDA=1 (the GPU script): a CUDA case that cannot run
fails, saying why, instead of being skipped.
"""
import os

import numpy as np
import pytest

import attn

try:
    import torch
except ImportError:  # the NumPy tests still run
    torch = None

DEVICES = os.environ.get("ATTN_TEST_DEVICES", "cpu").split(",")
REQUIRE_CUDA = os.environ.get("ATTN_TEST_REQUIRE_CUDA", "") == "1"

# |got - ref| <= atol + rtol |ref| against float64 on the rounded inputs
# (runtime/Check.cpp's rule per dtype).
TOLERANCE = {"float32": (2e-5, 2e-5), "float16": (2e-3, 2e-3),
             "bfloat16": (1.6e-2, 1.6e-2)}


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES)


@pytest.fixture(autouse=True)
def _skip_unusable(request):
    callspec = getattr(request.node, "callspec", None)
    device = callspec.params.get("device") if callspec else None
    if device == "cuda":
        why = cuda_unusable()
        if why:
            (pytest.fail if REQUIRE_CUDA else pytest.skip)(why)


def cuda_unusable():
    """Why CUDA tensors cannot be tested here ("" when they can)."""
    if torch is None:
        return "no PyTorch (import torch failed)"
    if not torch.cuda.is_available():
        return (f"torch {torch.__version__} sees no GPU "
                f"(torch.version.cuda={torch.version.cuda})")
    ok, why = attn._capi.cuda_available()
    if not ok:
        return f"attn sees no CUDA device: {why}"
    return ""


def to_f64(x):
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def allows(i, j, causal, window, dilation, global_tokens):
    """runtime's MaskSpec::allows for absolute query position i, key j."""
    if causal and j > i:
        return False
    if global_tokens and (j < global_tokens or i < global_tokens):
        return True
    dist = i - j
    if window is not None:
        left, right = (window, window) if isinstance(window, int) else window
        if left >= 0 and dist > left:
            return False
        if right >= 0 and -dist > right:
            return False
    return dilation == 1 or dist % dilation == 0


def reference(q, k, v, causal=False, window=None, scale=None, softcap=None,
              q_offset=0, dilation=1, global_tokens=0, kv_lengths=None):
    """float64 attention of [B, H, S, D] arrays; (out, lse)."""
    q, k, v = to_f64(q), to_f64(k), to_f64(v)
    b, hq, sq, d = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    k = np.repeat(k, hq // hkv, axis=1)
    v = np.repeat(v, hq // hkv, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) * (
        scale if scale is not None else 1 / np.sqrt(d))
    if softcap is not None:
        s = softcap * np.tanh(s / softcap)
    mask = np.array([[allows(i + q_offset, j, causal, window, dilation,
                             global_tokens) for j in range(skv)]
                     for i in range(sq)])
    mask = np.broadcast_to(mask, (b, 1, sq, skv)).copy()
    if kv_lengths is not None:
        for bi, n in enumerate(to_f64(kv_lengths).astype(int)):
            mask[bi, :, :, n:] = False
    s = np.where(mask, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    p = np.exp(s - m)
    denom = p.sum(axis=-1, keepdims=True)
    out = np.einsum("bhij,bhjd->bhid", p / np.where(denom > 0, denom, 1), v)
    lse = (np.log(denom) + m)[..., 0]
    return out, lse


def assert_close(got, ref, dtype):
    got = to_f64(got)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    assert not np.isnan(got).any(), "NaN in the output"
    atol, rtol = TOLERANCE[dtype]
    err = np.abs(got - ref) - (atol + rtol * np.abs(ref))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= 0, (f"{dtype}: |{got[worst]} - {ref[worst]}| over "
                            f"tolerance at {worst}")


def make(shape, dtype, device, lib, seed):
    """A random tensor: numpy (float32/float16) or torch (any float dtype)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    if lib == "numpy":
        return x.astype(dtype)
    return torch.from_numpy(x).to(device=device, dtype=getattr(torch, dtype))
