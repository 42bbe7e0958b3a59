"""KV caches (contiguous and paged) with append and decode steps."""
import collections
import ctypes

import numpy as np

from . import _capi
from ._core import _int_option, _number, _window, default_runtime
from ._tensors import Described, FLOAT_DTYPES, empty_like_kind

SeqId = collections.namedtuple("SeqId", "slot generation")

_DTYPES = {"float32": _capi.F32, "float16": _capi.F16, "bfloat16": _capi.BF16}


def _dtype_code(dtype):
    name = str(dtype).replace("torch.", "")
    if name not in _DTYPES:
        raise TypeError(f"dtype: {dtype!r} is not float32, float16 or "
                        "bfloat16")
    return _DTYPES[name]


class KvCache:
    """Shared by ContiguousKvCache and PagedKvCache (attn_kv_cache)."""

    def __init__(self, config, runtime):
        self._runtime = runtime or default_runtime()  # outlives the cache
        handle = ctypes.c_void_p()
        _capi.check(_capi.lib.attn_kv_cache_create(
            self._runtime._handle, ctypes.byref(config), ctypes.byref(handle)))
        self._handle = handle
        self.dtype = _capi.DTYPE_NAMES[config.dtype]
        self.device = "cuda" if config.memory == _capi.DEVICE else "cpu"

    def __del__(self):
        if getattr(self, "_handle", None):
            _capi.lib.attn_kv_cache_destroy(self._handle)
            self._handle = None

    def add_sequence(self):
        """A new empty sequence (the lowest free slot)."""
        out = _capi.SeqIdStruct()
        _capi.check(_capi.lib.attn_kv_cache_add_sequence(self._handle,
                                                         ctypes.byref(out)))
        return SeqId(out.slot, out.generation)

    def free_sequence(self, seq):
        _capi.check(_capi.lib.attn_kv_cache_free_sequence(self._handle,
                                                          _seq(seq, "seq")))

    def length(self, seq):
        n = ctypes.c_int64()
        _capi.check(_capi.lib.attn_kv_cache_length(
            self._handle, _seq(seq, "seq"), ctypes.byref(n)))
        return n.value

    def truncate(self, seq, new_length):
        _capi.check(_capi.lib.attn_kv_cache_truncate(
            self._handle, _seq(seq, "seq"),
            _int_option(new_length, "new_length", 0)))

    def stats(self):
        s = _capi.KvCacheStats()
        _capi.check(_capi.lib.attn_kv_cache_stats_get(self._handle,
                                                      ctypes.byref(s)))
        return {"num_sequences": s.num_sequences,
                "max_sequences": s.max_sequences,
                "max_sequence_length": s.max_sequence_length,
                "num_pages": s.num_pages, "num_free_pages": s.num_free_pages,
                "page_size": s.page_size,
                "key_pool_shape": tuple(s.key_pool_shape),
                "value_pool_shape": tuple(s.value_pool_shape)}

    def append(self, seqs, key, value, new_lengths=None):
        """Appends key [B, Hkv, Snew, D] and value [B, Hkv, Snew, Dv] (the
        cache's dtype) to the B sequences `seqs`; new_lengths (B ints <=
        Snew) appends fewer rows to some. All or nothing."""
        ids = _seqs(seqs)
        dk, dv = self._typed(key, "key"), self._typed(value, "value")
        lengths = None
        if new_lengths is not None:
            lengths = np.ascontiguousarray(
                _host_ints(new_lengths, "new_lengths"), dtype=np.int32)
            if lengths.shape != (len(seqs),):
                raise ValueError(f"new_lengths: expected {len(seqs)} values, "
                                 f"got shape {list(lengths.shape)}")
        _capi.check(_capi.lib.attn_kv_cache_append(
            self._handle, ids, len(seqs), dk.buffer(), dv.buffer(),
            None if lengths is None else lengths.ctypes.data_as(
                ctypes.POINTER(ctypes.c_int32))))

    def attention(self, seqs, query, *, causal=False, window=None, scale=None,
                  softcap=None, return_lse=False, out=None):
        """Attention of query [B, Hq, Sq, D] (the last Sq tokens of each
        sequence: append them first) against the cache; returns the
        [B, Hq, Sq, Dv] output (and the [B, Hq, Sq] float32 lse)."""
        ids = _seqs(seqs)
        dq = self._typed(query, "query")
        if len(dq.shape) != 4:
            raise ValueError(f"query: expected [B, Hq, Sq, D], got shape "
                             f"{list(dq.shape)}")
        opts = _capi.DecodeOptions()
        _capi.lib.attn_decode_options_init(ctypes.byref(opts))
        if not isinstance(causal, bool):
            raise TypeError("causal: expected a bool")
        opts.causal = int(causal)
        w = _window(window)
        if w is not None:
            opts.window_left, opts.window_right = w
        scale, softcap = _number(scale, "scale"), _number(softcap, "softcap")
        if scale is not None:
            opts.has_scale, opts.scale = 1, scale
        if softcap is not None:
            opts.has_softcap, opts.softcap = 1, softcap
        b, hq, sq, _ = dq.shape
        dv = self.stats()["value_pool_shape"][-1]
        if out is None:
            out = empty_like_kind(dq, (b, hq, sq, dv), dq.dtype)
        do = Described(out, "out", (dq.dtype,))
        lse = empty_like_kind(dq, (b, hq, sq), _capi.F32) if return_lse else None
        dl = Described(lse, "lse") if return_lse else None
        _capi.check(_capi.lib.attn_kv_cache_attention(
            self._handle, ids, len(seqs), dq.buffer(), do.buffer(),
            dl.buffer() if dl else None, ctypes.byref(opts)))
        return (out, lse) if return_lse else out

    def _typed(self, x, name):
        d = Described(x, name, FLOAT_DTYPES)
        if _capi.DTYPE_NAMES[d.dtype] != self.dtype:
            raise TypeError(f"{name}: dtype {_capi.DTYPE_NAMES[d.dtype]} "
                            f"differs from the cache's {self.dtype}")
        return d

    def read_pools(self):
        """Host copies of the key and value pools (numpy; bfloat16 pools
        come back as float32)."""
        s = self.stats()
        np_dtype = {"float32": np.float32, "float16": np.float16,
                    "bfloat16": np.uint16}[self.dtype]
        keys = np.empty(s["key_pool_shape"], dtype=np_dtype)
        values = np.empty(s["value_pool_shape"], dtype=np_dtype)
        _capi.check(_capi.lib.attn_kv_cache_read_pools(
            self._handle, keys.ctypes.data, values.ctypes.data))
        if self.dtype == "bfloat16":
            keys, values = ((x.astype(np.uint32) << 16).view(np.float32)
                            for x in (keys, values))
        return keys, values


class ContiguousKvCache(KvCache):
    """Pools [max_batch, Hkv, max_seq_len, D]; a step's sequences must sit in
    consecutive slots."""

    def __init__(self, max_batch, max_seq_len, num_kv_heads, head_dim, *,
                 value_dim=0, dtype="float32", device="cpu", runtime=None):
        c = _capi.KvCacheConfig()
        c.kind = _capi.KV_CONTIGUOUS
        c.max_sequences, c.max_seq_len = max_batch, max_seq_len
        _common(c, num_kv_heads, head_dim, value_dim, dtype, device)
        super().__init__(c, runtime)


class PagedKvCache(KvCache):
    """Pools of num_pages pages of page_size rows ([P, page, Hkv, D], or
    [P, Hkv, page, D] with page_layout="hnd") plus a block table."""

    def __init__(self, num_pages, page_size, max_pages_per_seq, max_sequences,
                 num_kv_heads, head_dim, *, value_dim=0, dtype="float32",
                 device="cpu", page_layout="nhd", runtime=None):
        if page_layout not in ("nhd", "hnd"):
            raise ValueError(f"page_layout: expected 'nhd' or 'hnd', got "
                             f"{page_layout!r}")
        c = _capi.KvCacheConfig()
        c.kind = _capi.KV_PAGED
        c.num_pages, c.page_size = num_pages, page_size
        c.max_pages_per_seq, c.max_sequences = max_pages_per_seq, max_sequences
        c.page_layout_hnd = int(page_layout == "hnd")
        _common(c, num_kv_heads, head_dim, value_dim, dtype, device)
        super().__init__(c, runtime)


def _common(c, num_kv_heads, head_dim, value_dim, dtype, device):
    c.num_kv_heads, c.head_dim, c.value_dim = num_kv_heads, head_dim, value_dim
    c.dtype = _dtype_code(dtype)
    if str(device) not in ("cpu", "cuda", "cuda:0"):
        raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    c.memory = _capi.HOST if str(device) == "cpu" else _capi.DEVICE


def _seq(seq, name):
    if not (isinstance(seq, tuple) and len(seq) == 2):
        raise TypeError(f"{name}: expected a SeqId, got {seq!r}")
    return _capi.SeqIdStruct(*seq)


def _seqs(seqs):
    seqs = list(seqs)
    if not seqs:
        raise ValueError("seqs: empty")
    arr = (_capi.SeqIdStruct * len(seqs))()
    for i, s in enumerate(seqs):
        arr[i] = _seq(s, f"seqs[{i}]")
    return arr


def _host_ints(x, name):
    if hasattr(x, "cpu"):  # a torch tensor
        x = x.cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integers, got {arr.dtype}")
    return arr
