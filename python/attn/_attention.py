"""attn.attention: one call from tensors to a cached compiled kernel."""
import numpy as np

from . import _capi
from ._core import _int_option, _number, _run, _window, default_runtime
from ._tensors import Described, FLOAT_DTYPES, as_lengths, empty_like_kind

_DTYPE_SPEC = {_capi.F32: "f32", _capi.F16: "f16", _capi.BF16: "bf16"}


def _describe_qkv(q, k, v):
    dq = Described(q, "q", FLOAT_DTYPES)
    dk = Described(k, "k", FLOAT_DTYPES)
    dv = Described(v, "v", FLOAT_DTYPES)
    for d in (dk, dv):
        if d.kind != dq.kind:
            raise TypeError(f"{d.name}: a {d.kind} tensor while q is a "
                            f"{dq.kind} one")
        if d.dtype != dq.dtype:
            raise TypeError(f"{d.name}: dtype {_capi.DTYPE_NAMES[d.dtype]} "
                            f"differs from q's {_capi.DTYPE_NAMES[dq.dtype]}")
        if d.memory != dq.memory:
            where = lambda m: "cuda" if m == _capi.DEVICE else "cpu"  # noqa
            raise ValueError(f"{d.name}: on {where(d.memory)} while q is on "
                             f"{where(dq.memory)}")
    return dq, dk, dv


def _as_rank4(d, layout):
    """[B, S, D] as [B, 1, S, D] (bhsd) or [B, S, 1, D] (bshd)."""
    if len(d.shape) == 4:
        return d
    if len(d.shape) != 3:
        raise ValueError(
            f"{d.name}: expected rank 4 ({'[B, H, S, D]' if layout == 'bhsd' else '[B, S, H, D]'}) "
            f"or 3 ([B, S, D]), got shape {list(d.shape)}")
    b, s, e = d.shape
    sb, ss, se = d.strides
    if layout == "bhsd":
        return d.view((b, 1, s, e), (sb, s * ss, ss, se))
    return d.view((b, s, 1, e), (sb, ss, e * se, se))


def _dims(dq, dk, dv, layout):
    """(B, Hq, Hkv, Sq, Skv, D, Dv), checked; errors name the tensor."""
    def bhsd(d):
        b, x, y, e = d.shape
        return (b, x, y, e) if layout == "bhsd" else (b, y, x, e)
    b, hq, sq, dim = bhsd(dq)
    kb, hkv, skv, kd = bhsd(dk)
    vb, vh, vs, dv_ = bhsd(dv)
    if kb != b or vb != b:
        bad = dk if kb != b else dv
        raise ValueError(f"{bad.name}: batch {bhsd(bad)[0]} differs from q's "
                         f"{b}")
    if kd != dim:
        raise ValueError(f"k: head dim {kd} differs from q's {dim}")
    if vh != hkv or vs != skv:
        raise ValueError(f"v: heads/length ({vh}, {vs}) differ from k's "
                         f"({hkv}, {skv})")
    if hkv == 0 or hq % hkv:
        raise ValueError(f"q: {hq} heads are not a multiple of k's {hkv} "
                         "(GQA needs Hq % Hkv == 0)")
    return b, hq, hkv, sq, skv, dim, dv_


def spec_string(b, hq, hkv, sq, skv, d, dv, dtype, layout="bhsd",
                causal=False, q_offset=0, window=None, dilation=1,
                global_tokens=0, scale=None, softcap=None, ragged=False,
                lse=False, sinks=False, dropout_p=0.0, blocks=None):
    """The runtime's shorthand for these shapes and attributes. blocks:
    (BQ, BK, per_head, per_batch, max_blocks) of a block-sparse mask."""
    s = (f"gqa:b={b},hq={hq},hkv={hkv},sq={sq},skv={skv},d={d},dv={dv},"
         f"dtype={dtype},layout={layout}")
    if causal:
        s += ",causal"
    if q_offset:
        s += f",offset={q_offset}"
    if window is not None:
        s += f",window={window[0]}:{window[1]}"
    if dilation != 1:
        s += f",dilation={dilation}"
    if global_tokens:
        s += f",global={global_tokens}"
    if scale is not None:
        s += f",scale={scale!r}"
    if softcap is not None:
        s += f",softcap={softcap!r}"
    if ragged:
        s += ",ragged"
    if lse:
        s += ",lse"
    if sinks:
        s += ",sinks"
    if dropout_p:
        s += f",dropout={dropout_p!r}"
    if blocks is not None:
        bq, bk, per_head, per_batch, max_blocks = blocks
        s += f",blocks={bq}:{bk}"
        s += ":head" if per_head else ""
        s += ":batch" if per_batch else ""
        if max_blocks != -(-skv // bk):
            s += f":max{max_blocks}"
    return s


def attention(q, k, v, *, causal=False, window=None, scale=None, softcap=None,
              layout="bhsd", q_offset=0, dilation=1, global_tokens=0,
              kv_lengths=None, return_lse=False, sinks=None, dropout_p=0.0,
              dropout_seed=0, dropout_offset=0, block_mask=None, out=None,
              runtime=None, **compile_options):
    """Fused attention softmax(q kᵀ · scale) v of NumPy arrays or PyTorch
    tensors, in place (no copies), on the CPU or, for CUDA tensors, the GPU.

    q: [B, Hq, Sq, D]; k: [B, Hkv, Skv, D]; v: [B, Hkv, Skv, Dv] (layout
    "bhsd", like F.scaled_dot_product_attention; "bshd": [B, S, H, D]), or
    rank 3 [B, S, D] for one head. Hq % Hkv == 0 (GQA, MQA). float32,
    float16 or bfloat16 (bfloat16: torch only); strided views are fine as
    long as the last dimension is contiguous.

    causal: query i sees keys j <= i + q_offset (q_offset=0 is SDPA's
    is_causal; Skv - Sq aligns the queries with the end of the keys).
    window: (left, right) keys around the query position (an int: both);
    dilation, global_tokens: Longformer-style masks. scale: default
    1/sqrt(D). softcap: tanh soft-capping of the scores. kv_lengths: [B]
    int32 keys per batch row (ragged). return_lse: also return the [B, Hq,
    Sq] float32 log-sum-exp. sinks: [Hq] float32 sink logits (one more
    logit per head in the softmax's denominator, with no value). dropout_p:
    drop each attention weight with probability p after the softmax and
    scale the kept ones by 1/(1-p) (PyTorch's training dropout), the mask
    from the Philox stream of (dropout_seed, dropout_offset), the same bit
    for bit on every thread count (docs/compiler.md). block_mask:
    (kv_num_blocks, kv_indices, block_size), FlexAttention's BlockMask
    (kv_num_blocks [B or 1, Hq or 1, ceil(Sq / BQ)] and kv_indices [..,
    maxBlocks] int32, strictly ascending; block_size an int or (BQ, BK));
    CPU only. out: the output to write (else allocated).
    compile_options: tile_rows, tile_kv, ... (see attn.compile).
    """
    if layout not in ("bhsd", "bshd"):
        raise ValueError(f"layout: expected 'bhsd' or 'bshd', got {layout!r}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    window = _window(window)
    scale, softcap = _number(scale, "scale"), _number(softcap, "softcap")
    q_offset = _int_option(q_offset, "q_offset", 0)
    dilation = _int_option(dilation, "dilation", 1)
    global_tokens = _int_option(global_tokens, "global_tokens", 0)
    dropout_p = _number(dropout_p, "dropout_p") or 0.0
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p: expected a probability in [0, 1), got "
                         f"{dropout_p}")
    blocks, block_buffers = _block_mask(block_mask)
    for name, x in (("dropout_seed", dropout_seed),
                    ("dropout_offset", dropout_offset)):
        if isinstance(x, bool) or not isinstance(x, int) or not (
                -2**63 <= x < 2**64):
            raise ValueError(f"{name}: expected a 64-bit int, got {x!r}")
    dq, dk, dv = _describe_qkv(q, k, v)
    rank = len(dq.shape)
    if len(dk.shape) != rank or len(dv.shape) != rank:
        bad = dk if len(dk.shape) != rank else dv
        raise ValueError(f"{bad.name}: rank {len(bad.shape)} differs from "
                         f"q's {rank}")
    dq, dk, dv = (_as_rank4(d, layout) for d in (dq, dk, dv))
    b, hq, hkv, sq, skv, d, dvd = _dims(dq, dk, dv, layout)
    on_gpu = dq.memory == _capi.DEVICE
    if on_gpu:
        ok, why = _capi.cuda_available()
        if not ok:
            raise RuntimeError(f"q: CUDA tensors but no usable GPU: {why}")
    spec = spec_string(b, hq, hkv, sq, skv, d, dvd, _DTYPE_SPEC[dq.dtype],
                       layout, causal, q_offset, window, dilation,
                       global_tokens, scale, softcap, kv_lengths is not None,
                       return_lse, sinks is not None, dropout_p,
                       blocks and blocks + (block_buffers[1].shape[3],))
    rt = runtime or default_runtime()
    kernel = rt.compile(spec, target="cuda" if on_gpu else "cpu",
                        **compile_options)
    if on_gpu:  # the CUDA kernels take dense row-major buffers
        dq, dk, dv = (_dense(d, layout) for d in (dq, dk, dv))
    described = {"query": dq, "key": dk, "value": dv}
    if kv_lengths is not None:
        described["kv_lengths"] = as_lengths(kv_lengths, "kv_lengths", dq)
    if sinks is not None:
        described["sinks"] = Described(sinks, "sinks", (_capi.F32,))
    if dropout_p:
        described["dropout_state"] = _dropout_state(dropout_seed,
                                                    dropout_offset, dq)
    if block_buffers:
        described["kv_num_blocks"], described["kv_indices"] = block_buffers
    out_shape = (b, hq, sq, dvd) if layout == "bhsd" else (b, sq, hq, dvd)
    if out is None:
        out = empty_like_kind(dq, (b, sq, dvd) if rank == 3 else out_shape,
                              dq.dtype)
    do = Described(out, "out", (dq.dtype,))
    if len(do.shape) != rank:
        raise ValueError(f"out: rank {len(do.shape)} differs from q's {rank}")
    user_out = None
    if on_gpu and not _is_dense(do):
        user_out, out = out, out.contiguous()
        do = Described(out, "out", (dq.dtype,))
    described["output"] = _as_rank4(do, layout)
    lse = None
    if return_lse:
        lse = empty_like_kind(dq, (b, hq, sq), _capi.F32)
        described["lse"] = Described(lse, "lse")
    _run(kernel, described)
    if user_out is not None:
        user_out.copy_(out)
        out = user_out
    return (out, lse) if return_lse else out


def _block_mask(block_mask):
    """(kv_num_blocks, kv_indices, block_size) as spec fields and buffers."""
    if block_mask is None:
        return None, None
    if not isinstance(block_mask, (tuple, list)) or len(block_mask) != 3:
        raise TypeError("block_mask: expected (kv_num_blocks, kv_indices, "
                        "block_size)")
    num, idx, size = block_mask
    if isinstance(size, int):
        size = (size, size)
    if (len(size) != 2 or not all(isinstance(x, int) and x > 0
                                  for x in size)):
        raise ValueError(f"block_mask: block_size must be a positive int or "
                         f"(q_block, kv_block), got {size!r}")
    dn = Described(num, "kv_num_blocks", (_capi.I32,))
    di = Described(idx, "kv_indices", (_capi.I32,))
    if len(dn.shape) != 3 or len(di.shape) != 4:
        raise ValueError("block_mask: kv_num_blocks must be [B, H, Qblocks] "
                         "and kv_indices [B, H, Qblocks, maxBlocks]")
    return (size[0], size[1], dn.shape[1] != 1, dn.shape[0] != 1), (dn, di)


def _dropout_state(seed, offset, ref):
    """[seed, offset] as the kernel's i64 state (two's complement), next to
    the query (a CUDA kernel reads it from device memory)."""
    wrap = lambda x: x - 2**64 if x >= 2**63 else x  # noqa: E731
    state = np.array([wrap(seed), wrap(offset)], dtype=np.int64)
    if ref.memory == _capi.DEVICE:
        import torch
        state = torch.from_numpy(state).to(ref.tensor.device)
    return Described(state, "dropout_state", (_capi.I64,))


def _is_dense(d):
    expected = 1
    for size, stride in reversed(list(zip(d.shape, d.strides))):
        if size > 1 and stride != expected:
            return False
        expected *= size
    return True


def _dense(d, layout):
    """`d`, or a dense copy of a strided CUDA tensor (same shape)."""
    if _is_dense(d):
        return d
    shape = d.shape
    copy = Described(d.tensor.contiguous(), d.name, FLOAT_DTYPES)
    return _as_rank4(copy, layout) if len(shape) != len(copy.shape) else copy
