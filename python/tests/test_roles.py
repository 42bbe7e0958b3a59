"""The C API's version-3 roles from Python: sinks and dropout in
attn.attention, and attn.compile_backward, against float64 references
(the dropout mask regenerated here from Philox4x32-10, common/Philox.h)."""
import numpy as np
import pytest

import attn
from conftest import assert_close, make, to_f64

M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
U32 = np.uint64(0xFFFFFFFF)


def philox_words(c, seed):
    """Philox4x32-10 of counters c ([4, n] uint64 holding uint32) and key
    (seed low, seed high): the four output words."""
    c = [x.astype(np.uint64) for x in c]
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for r in range(10):
        if r:
            k0, k1 = (k0 + W0) & 0xFFFFFFFF, (k1 + W1) & 0xFFFFFFFF
        p0, p1 = np.uint64(M0) * c[0], np.uint64(M1) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & U32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & U32]
    return c


def keep_mask(b, h, sq, skv, p, seed, offset):
    """[b, h, sq, skv] keep bits of docs/compiler.md's stream."""
    bi, hi, qi, ki = np.meshgrid(np.arange(b), np.arange(h), np.arange(sq),
                                 np.arange(skv), indexing="ij")
    ctr = [ki >> 2, qi, bi * h + hi, np.full(ki.shape, offset)]
    words = philox_words([x.astype(np.uint64) for x in ctr], seed)
    word = np.choose(ki & 3, words)
    threshold = min(int(p * 4294967296.0), 0xFFFFFFFF) if p > 0 else 0
    return word >= threshold


def reference(q, k, v, sinks=None, keep=None, p=0.0):
    """float64 non-causal attention with sink logits and a dropout mask;
    (out, P, lse) with P the undropped weights."""
    q, k, v = to_f64(q), to_f64(k), to_f64(v)
    hq, hkv, d = q.shape[1], k.shape[1], q.shape[3]
    k, v = (np.repeat(x, hq // hkv, axis=1) for x in (k, v))
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(d)
    m = s.max(axis=-1, keepdims=True)
    if sinks is not None:
        sk = to_f64(sinks)[None, :, None, None]
        m = np.maximum(m, sk)
    e = np.exp(s - m)
    denom = e.sum(axis=-1, keepdims=True)
    if sinks is not None:
        denom = denom + np.exp(sk - m)
    P = e / denom
    W = P if keep is None else np.where(keep, P / (1 - p), 0.0)
    return np.einsum("bhij,bhjd->bhid", W, v), P, (np.log(denom) + m)[..., 0]


@pytest.mark.parametrize("lib,dtype", [("numpy", "float32"),
                                       ("torch", "bfloat16")])
def test_sinks_match_float64(lib, dtype):
    if lib == "torch":
        pytest.importorskip("torch")
    q = make((2, 4, 13, 40), dtype, "cpu", lib, 1)
    k = make((2, 1, 29, 40), dtype, "cpu", lib, 2)  # MQA 4:1
    v = make((2, 1, 29, 40), dtype, "cpu", lib, 3)
    sinks = np.array([0.5, -3.0, 1.5, 0.0], dtype=np.float32)
    out, lse = attn.attention(q, k, v, sinks=sinks, return_lse=True)
    ref, _, ref_lse = reference(q, k, v, sinks=sinks)
    assert_close(out, ref, dtype)
    assert_close(lse, ref_lse, "float32" if dtype == "float32" else "float16")
    plain = attn.attention(q, k, v)
    assert np.abs(to_f64(plain) - to_f64(out)).max() > 1e-3  # sinks matter


@pytest.mark.parametrize("lib,dtype,where,d", [
    ("numpy", "float32", "cpu", 24), ("torch", "bfloat16", "cuda", 40),
    ("torch", "float16", "cuda", 64)])
def test_dropout_matches_philox_reference(lib, dtype, where, d):
    if lib == "torch":
        torch = pytest.importorskip("torch")
        if where == "cuda" and not (torch.cuda.is_available()
                                     and attn.cuda_available()):
            pytest.skip("no CUDA device")
    q = make((1, 7, 11, d), dtype, where, lib, 4)  # GQA 7:1
    k = make((1, 1, 37, d), dtype, where, lib, 5)
    v = make((1, 1, 37, d), dtype, where, lib, 6)
    p, seed, offset = 0.3, 0xFEDCBA9876543210, 12
    out = attn.attention(q, k, v, dropout_p=p, dropout_seed=seed,
                         dropout_offset=offset)
    keep = keep_mask(1, 7, 11, 37, p, seed, offset)
    assert 0.6 < keep.mean() < 0.8
    ref, _, _ = reference(q, k, v, keep=keep, p=p)
    assert_close(out, ref, dtype)
    same = lambda a, b: np.array_equal(to_f64(a), to_f64(b))  # noqa: E731
    again = attn.attention(q, k, v, dropout_p=p, dropout_seed=seed,
                           dropout_offset=offset)
    assert same(out, again)
    other = attn.attention(q, k, v, dropout_p=p, dropout_seed=seed + 1,
                           dropout_offset=offset)
    assert not same(out, other)
    assert same(attn.attention(q, k, v, dropout_p=0.0),
                attn.attention(q, k, v))


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan")])
def test_dropout_p_out_of_range(bad):
    q = np.zeros((1, 1, 2, 8), np.float32)
    with pytest.raises(ValueError, match="dropout_p"):
        attn.attention(q, q, q, dropout_p=bad)


def test_backward_matches_float64():
    b, hq, hkv, s, d = 2, 4, 1, 21, 16
    q = make((b, hq, s, d), "float32", "cpu", "numpy", 7)
    k = make((b, hkv, s, d), "float32", "cpu", "numpy", 8)
    v = make((b, hkv, s, d), "float32", "cpu", "numpy", 9)
    dout = make((b, hq, s, d), "float32", "cpu", "numpy", 10)
    spec = f"gqa:b={b},hq={hq},hkv={hkv},s={s},d={d},lse"
    out, lse = attn.compile(spec)(q, k, v)
    bwd = attn.compile_backward(spec)
    assert [a["role"] for a in bwd.args if a["is_output"]] == [
        "grad_query", "grad_key", "grad_value"]
    dq, dk, dv = bwd(q, k, v, output=out, grad_output=dout, lse=lse)
    ref, P, _ = reference(q, k, v)
    g = hq // hkv
    kr, vr = (np.repeat(to_f64(x), g, axis=1) for x in (k, v))
    dO = to_f64(dout)
    dP = np.einsum("bhid,bhjd->bhij", dO, vr)
    D = (dO * ref).sum(axis=-1, keepdims=True)
    dS = P * (dP - D) / np.sqrt(d)
    ref_dq = np.einsum("bhij,bhjd->bhid", dS, kr)
    ref_dk = np.einsum("bhij,bhid->bhjd", dS, to_f64(q))
    ref_dv = np.einsum("bhij,bhid->bhjd", P, dO)
    fold = lambda x: x.reshape(b, hkv, g, s, d).sum(axis=2)  # noqa: E731
    for got, want in ((dq, ref_dq), (dk, fold(ref_dk)), (dv, fold(ref_dv))):
        err = np.abs(to_f64(got) - want).max() / np.abs(want).max()
        assert err < 5e-5, err  # runtime/CheckBackward.h's f32 tolerance


def test_backward_errors():
    with pytest.raises(attn.CompileError, match="shorthand"):
        attn.compile_backward("func.func @f() { return }")
    bwd = attn.compile_backward("mha:b=1,h=1,s=4,d=8,lse")
    x = np.zeros((1, 1, 4, 8), np.float32)
    with pytest.raises(ValueError, match="grad_output: this kernel needs it"):
        bwd(x, x, x, output=x, lse=np.zeros((1, 1, 4), np.float32))
    with pytest.raises(ValueError, match="sinks: not an input"):
        bwd(x, x, x, sinks=x)


def test_backward_with_dropout_matches_float64():
    """The backward regenerates the forward's keep mask Z: dV = (P Z)^T dO,
    dP = Z (dO V^T), D = rowsum(dO * O) with the dropped output."""
    b, hq, hkv, s, d, p = 1, 4, 2, 19, 16, 0.3
    q = make((b, hq, s, d), "float32", "cpu", "numpy", 11)
    k = make((b, hkv, s, d), "float32", "cpu", "numpy", 12)
    v = make((b, hkv, s, d), "float32", "cpu", "numpy", 13)
    dout = make((b, hq, s, d), "float32", "cpu", "numpy", 14)
    seed, offset = 0x1234567890ABCDEF, 5
    state = np.array([seed, offset], np.int64)
    spec = f"gqa:b={b},hq={hq},hkv={hkv},s={s},d={d},dropout={p},lse"
    out, lse = attn.compile(spec)(q, k, v, dropout_state=state)
    dq, dk, dv = attn.compile_backward(spec)(
        q, k, v, dropout_state=state, output=out, grad_output=dout, lse=lse)
    keep = keep_mask(b, hq, s, s, p, seed, offset)
    ref, P, _ = reference(q, k, v, keep=keep, p=p)
    assert_close(out, ref, "float32")
    Z = np.where(keep, 1 / (1 - p), 0.0)
    g = hq // hkv
    kr, vr = (np.repeat(to_f64(x), g, axis=1) for x in (k, v))
    dO = to_f64(dout)
    dP = Z * np.einsum("bhid,bhjd->bhij", dO, vr)
    D = (dO * ref).sum(axis=-1, keepdims=True)
    dS = P * (dP - D) / np.sqrt(d)
    ref_dq = np.einsum("bhij,bhjd->bhid", dS, kr)
    ref_dk = np.einsum("bhij,bhid->bhjd", dS, to_f64(q))
    ref_dv = np.einsum("bhij,bhid->bhjd", P * Z, dO)
    fold = lambda x: x.reshape(b, hkv, g, s, d).sum(axis=2)  # noqa: E731
    for got, want in ((dq, ref_dq), (dk, fold(ref_dk)), (dv, fold(ref_dv))):
        err = np.abs(to_f64(got) - want).max() / np.abs(want).max()
        assert err < 5e-5, err
