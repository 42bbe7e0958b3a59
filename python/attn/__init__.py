"""attn: fused attention kernels compiled by the attn MLIR compiler.

    import attn, torch
    out = attn.attention(q, k, v, causal=True)          # numpy or torch
    kernel = attn.compile("gqa:b=1,hq=32,hkv=8,s=1024,d=128,causal")
    out = kernel(q, k, v)
    cache = attn.PagedKvCache(num_pages=64, page_size=16, max_pages_per_seq=8,
                              max_sequences=4, num_kv_heads=8, head_dim=128)

CPU tensors run on the host (a JIT kernel per shape, cached); CUDA tensors
run in place on the GPU, queued on PyTorch's current stream. See
docs/python.md.
"""
from ._capi import CompileError, cuda_available as _cuda_available
from ._core import Kernel, Runtime, compile, compile_backward, default_runtime
from ._attention import attention, spec_string
from .kvcache import ContiguousKvCache, KvCache, PagedKvCache, SeqId
from . import _torch_op
import sys as _sys

__version__ = "0.1.0"

_op = [None, False]  # the op, registered?


def _torch_op_or_none():
    if not _op[1]:
        _op[0], _op[1] = _torch_op.register(), True
    return _op[0]


def __getattr__(name):
    # attn.torch_op: torch.ops.attn.attention (None before PyTorch 2.4).
    # Importing torch is slow, so it happens on first use, or right away when
    # torch is already imported.
    if name == "torch_op":
        return _torch_op_or_none()
    raise AttributeError(f"module 'attn' has no attribute {name!r}")


if "torch" in _sys.modules:
    _torch_op_or_none()


def cuda_available():
    """True when a CUDA device is usable (attn loads libcuda itself)."""
    return _cuda_available()[0]


__all__ = ["attention", "compile", "compile_backward", "Kernel", "Runtime", "default_runtime",
           "ContiguousKvCache", "PagedKvCache", "KvCache", "SeqId",
           "CompileError", "cuda_available", "spec_string", "torch_op"]
