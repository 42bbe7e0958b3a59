"""ctypes declarations of libattn.so (runtime/capi/attn.h) and its errors.

ctypes rather than a compiled extension (nanobind, pybind11): the package
then holds no Python-version-specific binary at all, so one wheel built on
Debian's Python 3.11 imports unchanged on the GPU machine's 3.12 (nanobind's
stable-ABI builds need Python >= 3.12 to build and Debian 12 packages no
nanobind), and the one shared library is the same libattn.so C programs
link. The cost is a few microseconds of argument marshalling per call
(measured in docs/python.md).
"""
import ctypes
import os
import pathlib

ATTN_MAX_RANK = 8

# attn_status
OK, INVALID_ARGUMENT, COMPILE, BUFFER, NO_DEVICE, KV_CACHE = range(6)
# attn_dtype
F32, F16, BF16, I32, I1, I64 = range(6)
# attn_memory, attn_target, attn_kv_kind
HOST, DEVICE = 0, 1
TARGET_CPU, TARGET_CUDA = 0, 1
KV_CONTIGUOUS, KV_PAGED = 0, 1

DTYPE_NAMES = {F32: "float32", F16: "float16", BF16: "bfloat16", I32: "int32",
               I1: "bool", I64: "int64"}
# attn_arg_role, in order (ATTN_NUM_ARG_ROLES of them)
ROLE_NAMES = ["query", "key", "value", "bool_mask", "bias", "kv_lengths",
              "q_segment_ids", "kv_segment_ids", "output", "lse", "sinks",
              "grad_output", "grad_query", "grad_key", "grad_value",
              "grad_bias", "dropout_state", "kv_num_blocks", "kv_indices"]
ROLE_INDEX = {name: i for i, name in enumerate(ROLE_NAMES)}

_i64p = ctypes.POINTER(ctypes.c_int64)


class Buffer(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", _i64p),
                ("strides", _i64p), ("memory", ctypes.c_int)]


_BP = ctypes.POINTER(Buffer)


class Args(ctypes.Structure):
    _fields_ = [(name, _BP) for name in
                ("query", "key", "value", "output", "bool_mask", "bias",
                 "kv_lengths", "q_segment_ids", "kv_segment_ids", "lse")]


class CompileOptions(ctypes.Structure):
    _fields_ = [("tile_rows", ctypes.c_int64), ("tile_kv", ctypes.c_int64),
                ("vector_width", ctypes.c_int64), ("cpu", ctypes.c_char_p),
                ("gpu_chip", ctypes.c_char_p), ("gpu_format", ctypes.c_char_p),
                ("gpu_kv_splits", ctypes.c_int64)]


class ArgInfo(ctypes.Structure):
    _fields_ = [("role", ctypes.c_int), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("is_output", ctypes.c_int32),
                ("shape", ctypes.c_int64 * ATTN_MAX_RANK)]


class CacheStats(ctypes.Structure):
    _fields_ = [("hits", ctypes.c_int64), ("compiles", ctypes.c_int64),
                ("entries", ctypes.c_int64), ("disk_hits", ctypes.c_int64)]


class KvCacheConfig(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("max_sequences", ctypes.c_int64),
                ("max_seq_len", ctypes.c_int64), ("num_pages", ctypes.c_int64),
                ("page_size", ctypes.c_int64),
                ("max_pages_per_seq", ctypes.c_int64),
                ("num_kv_heads", ctypes.c_int64), ("head_dim", ctypes.c_int64),
                ("value_dim", ctypes.c_int64), ("dtype", ctypes.c_int),
                ("memory", ctypes.c_int), ("page_layout_hnd", ctypes.c_int32)]


class SeqIdStruct(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_int32), ("generation", ctypes.c_uint32)]


class KvCacheStats(ctypes.Structure):
    _fields_ = [("num_sequences", ctypes.c_int64),
                ("max_sequences", ctypes.c_int64),
                ("max_sequence_length", ctypes.c_int64),
                ("num_pages", ctypes.c_int64),
                ("num_free_pages", ctypes.c_int64),
                ("page_size", ctypes.c_int64),
                ("key_pool_shape", ctypes.c_int64 * 4),
                ("value_pool_shape", ctypes.c_int64 * 4),
                ("memory", ctypes.c_int)]


class DecodeOptions(ctypes.Structure):
    _fields_ = [("causal", ctypes.c_int32), ("window_left", ctypes.c_int64),
                ("window_right", ctypes.c_int64), ("dilation", ctypes.c_int64),
                ("global_tokens", ctypes.c_int64),
                ("has_scale", ctypes.c_int32), ("scale", ctypes.c_float),
                ("has_softcap", ctypes.c_int32), ("softcap", ctypes.c_float)]


class CompileError(ValueError):
    """The spec or MLIR text was rejected, or lowering it failed."""


def _library_path():
    env = os.environ.get("ATTN_LIBRARY")
    if env:
        return env
    here = pathlib.Path(__file__).resolve().parent
    return str(here / "libattn.so")


def _load():
    path = _library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"attn: cannot load the attn C library {path} ({e}); install the "
            "wheel from scripts/build-wheel.sh or set ATTN_LIBRARY to a "
            "libattn.so") from None
    st = ctypes.c_int
    vp = ctypes.c_void_p
    sig = {
        "attn_api_version": (ctypes.c_int, []),
        "attn_last_error": (ctypes.c_char_p, []),
        "attn_runtime_create": (st, [ctypes.c_int32, ctypes.POINTER(vp)]),
        "attn_runtime_destroy": (None, [vp]),
        "attn_runtime_num_threads": (st, [vp, ctypes.POINTER(ctypes.c_int32)]),
        "attn_runtime_cache_stats": (st, [vp, ctypes.POINTER(CacheStats)]),
        "attn_runtime_clear_cache": (st, [vp]),
        "attn_cuda_available": (st, [ctypes.POINTER(ctypes.c_int32)]),
        "attn_compile": (st, [vp, ctypes.c_char_p, ctypes.c_int,
                              ctypes.POINTER(CompileOptions),
                              ctypes.POINTER(vp)]),
        "attn_kernel_destroy": (None, [vp]),
        "attn_kernel_num_args": (st, [vp, ctypes.POINTER(ctypes.c_int32)]),
        "attn_kernel_arg": (st, [vp, ctypes.c_int32, ctypes.POINTER(ArgInfo)]),
        "attn_kernel_compile_ms": (st, [vp, ctypes.POINTER(ctypes.c_double)]),
        "attn_kernel_run": (st, [vp, ctypes.POINTER(Args)]),
        "attn_kernel_enqueue": (st, [vp, ctypes.POINTER(Args), vp]),
        "attn_kernel_run_roles": (st, [vp, ctypes.POINTER(_BP), ctypes.c_int32]),
        "attn_kernel_enqueue_roles": (st, [vp, ctypes.POINTER(_BP),
                                           ctypes.c_int32, vp]),
        "attn_compile_backward": (st, [vp, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(CompileOptions),
                                       ctypes.POINTER(vp)]),
        "attn_decode_options_init": (None, [ctypes.POINTER(DecodeOptions)]),
        "attn_kv_cache_create": (st, [vp, ctypes.POINTER(KvCacheConfig),
                                      ctypes.POINTER(vp)]),
        "attn_kv_cache_destroy": (None, [vp]),
        "attn_kv_cache_stats_get": (st, [vp, ctypes.POINTER(KvCacheStats)]),
        "attn_kv_cache_add_sequence": (st, [vp, ctypes.POINTER(SeqIdStruct)]),
        "attn_kv_cache_free_sequence": (st, [vp, SeqIdStruct]),
        "attn_kv_cache_length": (st, [vp, SeqIdStruct,
                                      ctypes.POINTER(ctypes.c_int64)]),
        "attn_kv_cache_truncate": (st, [vp, SeqIdStruct, ctypes.c_int64]),
        "attn_kv_cache_append": (st, [vp, ctypes.POINTER(SeqIdStruct),
                                      ctypes.c_int32, _BP, _BP,
                                      ctypes.POINTER(ctypes.c_int32)]),
        "attn_kv_cache_attention": (st, [vp, ctypes.POINTER(SeqIdStruct),
                                         ctypes.c_int32, _BP, _BP, _BP,
                                         ctypes.POINTER(DecodeOptions)]),
        "attn_kv_cache_read_pools": (st, [vp, vp, vp]),
    }
    for name, (res, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = argtypes
    if lib.attn_api_version() != 3:
        raise ImportError(f"attn: {path} has C API version "
                          f"{lib.attn_api_version()}, this package needs 3")
    return lib


lib = _load()


def last_error():
    return lib.attn_last_error().decode("utf-8", "replace")


def check(status, what=""):
    """Raises the Python exception of a failed attn_status."""
    if status == OK:
        return
    message = last_error()
    # "attn_kernel_run: kv_lengths: ..." -> "kv_lengths: ...": Python errors
    # start with the argument at fault.
    if message.startswith("attn_") and ": " in message:
        message = message.split(": ", 1)[1]
    if what:
        message = f"{what}: {message}"
    if status == NO_DEVICE:
        raise RuntimeError(message)
    if status == COMPILE:
        raise CompileError(message)
    raise ValueError(message)


def cuda_available():
    """(available, reason)."""
    out = ctypes.c_int32(0)
    check(lib.attn_cuda_available(ctypes.byref(out)))
    return bool(out.value), last_error()
