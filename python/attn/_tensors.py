"""NumPy arrays and PyTorch tensors as attn_buffer descriptions (no copies)."""
import ctypes
import sys

import numpy as np

from . import _capi

_NP_DTYPES = {np.dtype(np.float32): _capi.F32, np.dtype(np.float16): _capi.F16,
              np.dtype(np.int32): _capi.I32, np.dtype(np.bool_): _capi.I1,
              np.dtype(np.int64): _capi.I64}
FLOAT_DTYPES = (_capi.F32, _capi.F16, _capi.BF16)


def _torch():
    """The torch module if it was imported (never imports it)."""
    return sys.modules.get("torch")


def is_torch(x):
    t = _torch()
    return t is not None and isinstance(x, t.Tensor)


def _torch_dtypes():
    t = _torch()
    return {t.float32: _capi.F32, t.float16: _capi.F16, t.bfloat16: _capi.BF16,
            t.int32: _capi.I32, t.bool: _capi.I1, t.int64: _capi.I64}


class Described:
    """One tensor as an attn_buffer; keeps the shape/stride arrays alive."""

    def __init__(self, x, name, allowed=None):
        if is_torch(x):
            self.kind = "torch"
            dtype = _torch_dtypes().get(x.dtype)
            dtype_name = str(x.dtype).replace("torch.", "")
            if x.device.type == "cuda":
                if x.device.index not in (None, 0):
                    raise ValueError(
                        f"{name}: tensor on {x.device}; attn runs on cuda:0")
                self.memory = _capi.DEVICE
            elif x.device.type == "cpu":
                self.memory = _capi.HOST
            else:
                raise ValueError(
                    f"{name}: tensor on {x.device}; attn takes cpu or cuda")
            shape, strides = tuple(x.shape), tuple(x.stride())
            data = x.data_ptr()
        elif isinstance(x, np.ndarray):
            self.kind = "numpy"
            self.memory = _capi.HOST
            dtype = _NP_DTYPES.get(x.dtype)
            dtype_name = str(x.dtype)
            shape = x.shape
            item = x.dtype.itemsize
            if any(s % item for s in x.strides):
                raise ValueError(
                    f"{name}: strides {x.strides} (bytes) are not multiples "
                    f"of the element size {item}")
            strides = tuple(s // item for s in x.strides)
            data = x.ctypes.data
        else:
            raise TypeError(f"{name}: expected a numpy.ndarray or torch.Tensor, "
                            f"got {type(x).__name__}")
        if dtype is None or (allowed is not None and dtype not in allowed):
            names = ", ".join(_capi.DTYPE_NAMES[d]
                              for d in (allowed or _capi.DTYPE_NAMES))
            raise TypeError(f"{name}: dtype {dtype_name} is not supported "
                            f"({names})")
        if not 1 <= len(shape) <= _capi.ATTN_MAX_RANK:
            raise ValueError(f"{name}: rank {len(shape)} is not supported")
        if any(s < 0 for s in strides):
            raise ValueError(f"{name}: negative strides {strides}")
        if shape and shape[-1] > 1 and strides[-1] != 1:
            raise ValueError(
                f"{name}: the innermost dimension must be contiguous (stride "
                f"1, got {strides[-1]}); pass a .contiguous() copy or a "
                "layout whose last dimension is the head dimension")
        self.tensor = x
        self.dtype = dtype
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)
        self.data = data
        self.name = name

    def view(self, shape, strides):
        """The same memory with another shape (e.g. a unit head dim)."""
        self.shape, self.strides = tuple(shape), tuple(strides)
        return self

    def buffer(self):
        self._shape = (ctypes.c_int64 * len(self.shape))(*self.shape)
        strides = list(self.strides)
        if strides and self.shape[-1] <= 1:
            strides[-1] = 1  # a size-1 innermost dim may report any stride
        self._strides = (ctypes.c_int64 * len(strides))(*strides)
        self._buffer = _capi.Buffer(self.data or None, self.dtype,
                                    len(self.shape), self._shape,
                                    self._strides, self.memory)
        return ctypes.pointer(self._buffer)


def empty_like_kind(ref, shape, dtype):
    """A new array/tensor of `shape` next to `ref` (same library, device)."""
    if ref.kind == "torch":
        t = _torch()
        tdtype = {v: k for k, v in _torch_dtypes().items()}[dtype]
        return t.empty(shape, dtype=tdtype, device=ref.tensor.device)
    npdtype = {v: k for k, v in _NP_DTYPES.items()}.get(dtype)
    if npdtype is None:
        raise TypeError("numpy has no bfloat16: pass torch tensors for bf16")
    return np.empty(shape, dtype=npdtype)


def as_lengths(x, name, ref):
    """kv_lengths / new_lengths: an int32 array or tensor, or a sequence."""
    if isinstance(x, (list, tuple)):
        if ref is not None and ref.kind == "torch":
            x = _torch().tensor(x, dtype=_torch().int32,
                                device=ref.tensor.device)
        else:
            x = np.asarray(x, dtype=np.int32)
    return Described(x, name, allowed=(_capi.I32,))
