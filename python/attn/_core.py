"""Runtimes, kernels, and attn.attention."""
import ctypes
import math
import os
import threading

from . import _capi
from ._tensors import Described, empty_like_kind

class Runtime:
    """A thread pool plus a kernel cache (attn_runtime).

    num_threads: threads running CPU kernels, the caller included; 0: all
    cores (or $ATTN_NUM_THREADS).
    """

    def __init__(self, num_threads=None):
        if num_threads is None:
            num_threads = int(os.environ.get("ATTN_NUM_THREADS", "0"))
        if not isinstance(num_threads, int) or num_threads < 0:
            raise ValueError(f"num_threads: expected an int >= 0, got "
                             f"{num_threads!r}")
        handle = ctypes.c_void_p()
        _capi.check(_capi.lib.attn_runtime_create(num_threads,
                                                  ctypes.byref(handle)))
        self._handle = handle
        self._kernels = {}
        self._lock = threading.Lock()

    def __del__(self):
        if getattr(self, "_handle", None):
            _capi.lib.attn_runtime_destroy(self._handle)
            self._handle = None

    @property
    def num_threads(self):
        n = ctypes.c_int32()
        _capi.check(_capi.lib.attn_runtime_num_threads(self._handle,
                                                       ctypes.byref(n)))
        return n.value

    def cache_stats(self):
        """{'hits', 'compiles', 'entries', 'disk_hits'} of the kernel cache
        (memory hits, compiles, entries in memory, loads from the disk cache)."""
        s = _capi.CacheStats()
        _capi.check(_capi.lib.attn_runtime_cache_stats(self._handle,
                                                       ctypes.byref(s)))
        return {"hits": s.hits, "compiles": s.compiles, "entries": s.entries,
                "disk_hits": s.disk_hits}

    def clear_cache(self):
        with self._lock:
            self._kernels.clear()
        _capi.check(_capi.lib.attn_runtime_clear_cache(self._handle))

    def compile(self, spec, *, target="cpu", tile_rows=0, tile_kv=0,
                vector_width=0, cpu=None, gpu_chip=None, gpu_format=None,
                gpu_kv_splits=0):
        """Compiles the shorthand `spec` ("gqa:b=1,hq=32,...") or MLIR text
        with one attn.attention for target "cpu" or "cuda"; cached."""
        return self._compile("forward", spec, target, tile_rows, tile_kv,
                             vector_width, cpu, gpu_chip, gpu_format,
                             gpu_kv_splits)

    def compile_backward(self, spec, *, target="cpu", tile_rows=0, tile_kv=0,
                         vector_width=0, cpu=None):
        """The backward of the shorthand `spec` (CPU): a Kernel taking
        query, key, value, output, grad_output, lse (the forward's, from a
        spec with `lse`) and returning (grad_query, grad_key, grad_value)."""
        return self._compile("backward", spec, target, tile_rows, tile_kv,
                             vector_width, cpu, None, None, 0)

    def _compile(self, kind, spec, target, *options):
        if not isinstance(spec, str):
            raise TypeError(f"spec: expected a str, got {type(spec).__name__}")
        if target not in ("cpu", "cuda"):
            raise ValueError(f"target: expected 'cpu' or 'cuda', got "
                             f"{target!r}")
        key = (kind, spec, target) + options
        kernel = self._kernels.get(key)
        if kernel is not None:
            return kernel
        (tile_rows, tile_kv, vector_width, cpu, gpu_chip, gpu_format,
         gpu_kv_splits) = options
        enc = lambda s: s.encode() if s else None  # noqa: E731
        opts = _capi.CompileOptions(tile_rows, tile_kv, vector_width, enc(cpu),
                                    enc(gpu_chip), enc(gpu_format),
                                    gpu_kv_splits)
        handle = ctypes.c_void_p()
        tgt = _capi.TARGET_CUDA if target == "cuda" else _capi.TARGET_CPU
        fn = (_capi.lib.attn_compile if kind == "forward"
              else _capi.lib.attn_compile_backward)
        _capi.check(fn(self._handle, spec.encode(), tgt, ctypes.byref(opts),
                       ctypes.byref(handle)))
        kernel = Kernel(handle, target)
        with self._lock:
            self._kernels[key] = kernel
        return kernel


_default = None
_default_lock = threading.Lock()


def default_runtime():
    """The runtime attn.attention and attn.compile use unless given one."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Runtime()
        return _default


def compile(spec, *, target="cpu", runtime=None, **options):  # noqa: A001
    """A reusable Kernel for the shorthand or MLIR text `spec`."""
    return (runtime or default_runtime()).compile(spec, target=target,
                                                  **options)


def compile_backward(spec, *, target="cpu", runtime=None, **options):
    """The backward Kernel of the shorthand `spec` (see
    Runtime.compile_backward)."""
    return (runtime or default_runtime()).compile_backward(
        spec, target=target, **options)


class Kernel:
    """A compiled kernel; call it with tensors by role (query, key, ...)."""

    def __init__(self, handle, target):
        self._handle = handle
        self.target = target
        n = ctypes.c_int32()
        _capi.check(_capi.lib.attn_kernel_num_args(handle, ctypes.byref(n)))
        self.args = []
        for i in range(n.value):
            info = _capi.ArgInfo()
            _capi.check(_capi.lib.attn_kernel_arg(handle, i,
                                                  ctypes.byref(info)))
            self.args.append({
                "role": _capi.ROLE_NAMES[info.role],
                "dtype": _capi.DTYPE_NAMES[info.dtype],
                "dtype_code": info.dtype,
                "shape": tuple(info.shape[:info.rank]),
                "is_output": bool(info.is_output)})
        ms = ctypes.c_double()
        _capi.check(_capi.lib.attn_kernel_compile_ms(handle, ctypes.byref(ms)))
        self.compile_ms = ms.value

    def __del__(self):
        if getattr(self, "_handle", None):
            _capi.lib.attn_kernel_destroy(self._handle)
            self._handle = None

    def __repr__(self):
        sig = ", ".join(f"{a['role']}: {a['dtype']}{list(a['shape'])}"
                        for a in self.args)
        return f"attn.Kernel({self.target}; {sig})"

    def __call__(self, query, key, value, **tensors):
        """Runs on `query`, `key`, `value` and the signature's other buffers
        by role name (bool_mask, bias, kv_lengths, q_segment_ids,
        kv_segment_ids, sinks, dropout_state; a backward kernel's output,
        grad_output, lse); allocates the results (output, lse, grad_query,
        ...) that are not given. Returns the output, or (output, lse) when
        the kernel has an lse result; a backward kernel returns
        (grad_query, grad_key, grad_value)."""
        tensors = dict(tensors, query=query, key=key, value=value)
        roles = {a["role"] for a in self.args}
        for name in tensors:
            if name not in roles:
                raise ValueError(f"{name}: not an input of this kernel "
                                 f"({', '.join(sorted(roles))})")
        described = {}
        for a in self.args:
            role = a["role"]
            if a["is_output"]:
                continue
            if tensors.get(role) is None:
                raise ValueError(f"{role}: this kernel needs it")
            described[role] = Described(tensors[role], role)
        ref = described["query"]
        results = [a["role"] for a in self.args if a["is_output"]]
        for a in self.args:
            if a["is_output"]:
                given = tensors.get(a["role"])
                if given is None:
                    given = empty_like_kind(ref, a["shape"], a["dtype_code"])
                described[a["role"]] = Described(given, a["role"])
        _run(self, described)
        if "output" not in results:
            return tuple(described[r].tensor for r in results)
        out = described["output"].tensor
        return (out, described["lse"].tensor) if "lse" in results else out


_CU_STREAM_LEGACY = 0x1  # cuda.h's CU_STREAM_LEGACY


def _cuda_stream(described):
    """torch's current stream when every buffer is a CUDA tensor."""
    if not all(d.kind == "torch" and d.memory == _capi.DEVICE
               for d in described.values()):
        return None
    import torch
    handle = torch.cuda.current_stream().cuda_stream
    # torch's default stream is the legacy NULL stream (handle 0), but a NULL
    # stream tells attn_kernel_enqueue to use the kernel's own stream, which
    # is not ordered with torch's work: name the legacy stream explicitly.
    return ctypes.c_void_p(handle or _CU_STREAM_LEGACY)


def _run(kernel, described):
    buffers = (_capi._BP * len(_capi.ROLE_NAMES))()
    for role, d in described.items():
        buffers[_capi.ROLE_INDEX[role]] = d.buffer()
    count = len(_capi.ROLE_NAMES)
    if kernel.target == "cuda":
        stream = _cuda_stream(described)
        if stream is not None:
            _capi.check(_capi.lib.attn_kernel_enqueue_roles(
                kernel._handle, buffers, count, stream))
            return
    elif any(d.memory == _capi.DEVICE for d in described.values()):
        raise ValueError(
            "tensors on the GPU need a CUDA kernel (target='cuda')")
    _capi.check(_capi.lib.attn_kernel_run_roles(kernel._handle, buffers,
                                                count))


def _window(window):
    if window is None:
        return None
    if isinstance(window, int) and not isinstance(window, bool):
        return (window, window)
    if (isinstance(window, (tuple, list)) and len(window) == 2 and
            all(isinstance(w, int) and not isinstance(w, bool)
                for w in window)):
        return tuple(window)
    raise TypeError(f"window: expected an int or a (left, right) pair of "
                    f"ints, got {window!r}")


def _number(x, name):
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name}: expected a float, got {type(x).__name__}")
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite, got {x}")
    return float(x)


def _int_option(x, name, minimum):
    if isinstance(x, bool) or not isinstance(x, int) or x < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {x!r}")
    return x
