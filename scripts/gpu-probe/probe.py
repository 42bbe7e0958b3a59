#!/usr/bin/env python3
"""Runs the PTX kernels gen.py produced on the GPU through the CUDA driver
(ctypes), checks them against a float64 reference on fresh random inputs,
and times them against PyTorch SDPA (FLASH / CUDNN backends) on the same
inputs. Prints one line per case.

Usage: probe.py DIR [--bench]
"""
import ctypes, json, math, os, sys, time
import torch

cuda = ctypes.CDLL("libcuda.so.1")

def check(rc, what):
    if rc != 0:
        name = ctypes.c_char_p()
        cuda.cuGetErrorName(rc, ctypes.byref(name))
        raise RuntimeError(f"{what}: {name.value.decode() if name.value else rc}")

torch.cuda.init()
torch.empty(1, device="cuda")  # makes the primary context current
TOL = {"bf16": 1.6e-2, "f16": 2e-3}
DT = {"bf16": torch.bfloat16, "f16": torch.float16}

def load_module(path):
    data = open(path, "rb").read() + b"\0"
    mod = ctypes.c_void_p()
    check(cuda.cuModuleLoadData(ctypes.byref(mod), data), "cuModuleLoadData " + path)
    return mod

def get_function(mod, name, smem):
    f = ctypes.c_void_p()
    check(cuda.cuModuleGetFunction(ctypes.byref(f), mod, name.encode()), "cuModuleGetFunction " + name)
    if smem > 48 * 1024:
        check(cuda.cuFuncSetAttribute(f, 8, smem), "cuFuncSetAttribute")
    return f

def visible(c, lengths):
    """[B, Sq, Skv] bool: which keys each query row may see."""
    B, Sq, Skv = c["b"], c["sq"], c["skv"]
    m = c.get("mask", {})
    off = int(m.get("q_offset", 0))
    i = torch.arange(Sq, device="cuda").view(Sq, 1) + off
    j = torch.arange(Skv, device="cuda").view(1, Skv)
    ok = torch.ones(Sq, Skv, dtype=torch.bool, device="cuda")
    d = i - j
    if "window_left" in m: ok &= d <= int(m["window_left"])
    if "window_right" in m: ok &= -d <= int(m["window_right"])
    if "dilation" in m: ok &= d % int(m["dilation"]) == 0
    gt = int(m.get("global_tokens", 0))
    if gt: ok |= (j < gt) | (i < gt)
    if m.get("causal") == "true": ok &= j <= i
    ok = ok.unsqueeze(0).expand(B, Sq, Skv).clone()
    if lengths is not None:
        ok &= j.unsqueeze(0) < lengths.view(B, 1, 1).long()
    return ok

def reference(c, q, k, v, lengths, bias=None):
    bshd = c.get("layout") == "bshd"
    if bshd:
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))
    G = c["hq"] // c["hkv"]
    q, k, v = q.double(), k.double().repeat_interleave(G, 1), v.double().repeat_interleave(G, 1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(c["d"])
    if bias is not None:
        s = s + bias.double()
    if "softcap" in c:
        s = c["softcap"] * torch.tanh(s / c["softcap"])
    vis = visible(c, lengths).unsqueeze(1)
    s = s.masked_fill(~vis, float("-inf"))
    p = torch.softmax(s, -1).nan_to_num(0.0)
    o = p @ v
    reference.lse = torch.logsumexp(s, -1)  # [B, Hq, Sq], -inf where nothing is seen
    return o.transpose(1, 2) if bshd else o

def make_inputs(c, gen):
    B, Hq, Hkv, Sq, Skv, D = c["b"], c["hq"], c["hkv"], c["sq"], c["skv"], c["d"]
    dt = DT[c.get("dtype", "bf16")]
    bshd = c.get("layout") == "bshd"
    def t(h, s):
        shape = (B, s, h, D) if bshd else (B, h, s, D)
        return torch.randn(shape, generator=gen, device="cuda", dtype=torch.float32).to(dt)
    q, k, v = t(Hq, Sq), t(Hkv, Skv), t(Hkv, Skv)
    lengths = None
    if c.get("ragged"):
        lengths = torch.randint(0, Skv + 1, (B,), generator=gen, device="cuda", dtype=torch.int32)
        lengths[0] = 0
        if B > 1: lengths[1] = 1
        if B > 2: lengths[2] = Skv
    out = torch.full((B, Sq, Hq, D) if bshd else (B, Hq, Sq, D), float("nan"), device="cuda", dtype=dt)
    return q, k, v, lengths, out

def make_cache_inputs(c, gen):
    """A cache holding ragged sequences: contiguous [B, Hkv, Smax, D] or a
    page pool with a shuffled block table (unused entries -1)."""
    B, Hq, Hkv, Sq, D = c["b"], c["hq"], c["hkv"], c["sq"], c["d"]
    dt = DT[c.get("dtype", "bf16")]
    form = c["cache"]
    cap = c["smax"] if form == "contiguous" else c["max_pages"] * c["page"]
    lengths = torch.randint(Sq, cap + 1, (B,), generator=gen, device="cuda", dtype=torch.int32)
    lengths[0] = Sq  # a sequence holding only its queries
    if B > 1: lengths[1] = cap
    rnd = lambda *shape: torch.randn(shape, generator=gen, device="cuda").to(dt)
    q = rnd(B, Hq, Sq, D)
    if form == "contiguous":
        kc, vc = rnd(B, Hkv, cap, D), rnd(B, Hkv, cap, D)
        bt = None
    else:
        P, page = c["pages"], c["page"]
        shape = (P, page, Hkv, D) if form == "nhd" else (P, Hkv, page, D)
        kc, vc = rnd(*shape), rnd(*shape)
        need = [(int(l) + page - 1) // page for l in lengths.tolist()]
        assert sum(need) <= P, "pool too small"
        perm = torch.randperm(P, generator=gen, device="cuda").tolist()
        bt = torch.full((B, c["max_pages"]), -1, dtype=torch.int32, device="cuda")
        at = 0
        for bi, n in enumerate(need):
            bt[bi, :n] = torch.tensor(perm[at:at + n], dtype=torch.int32)
            at += n
    out = torch.full((B, Hq, Sq, D), float("nan"), device="cuda", dtype=dt)
    return q, kc, vc, lengths, bt, out

def cache_reference(c, q, kc, vc, lengths, bt):
    B, Hq, Hkv, Sq, D = c["b"], c["hq"], c["hkv"], c["sq"], c["d"]
    G = Hq // Hkv
    m = c.get("mask", {})
    out = torch.zeros(B, Hq, Sq, D, dtype=torch.float64, device="cuda")
    lses = []
    for b in range(B):
        L = int(lengths[b])
        if c["cache"] == "contiguous":
            k, v = kc[b, :, :L], vc[b, :, :L]
        else:
            page = c["page"]
            keys = torch.arange(L, device="cuda")
            pages = bt[b, keys // page].long()
            slots = keys % page
            if c["cache"] == "nhd":
                k, v = kc[pages, slots].transpose(0, 1), vc[pages, slots].transpose(0, 1)
            else:
                k, v = kc[pages, :, slots].transpose(0, 1), vc[pages, :, slots].transpose(0, 1)
        k = k.double().repeat_interleave(G, 0)
        v = v.double().repeat_interleave(G, 0)
        s = (q[b].double() @ k.transpose(-1, -2)) / math.sqrt(D)
        if "softcap" in c:
            s = c["softcap"] * torch.tanh(s / c["softcap"])
        i = torch.arange(Sq, device="cuda").view(Sq, 1) + (L - Sq)
        j = torch.arange(L, device="cuda").view(1, L)
        ok = torch.ones(Sq, L, dtype=torch.bool, device="cuda")
        if "window_left" in m: ok &= (i - j) <= int(m["window_left"])
        if m.get("causal") == "true": ok &= j <= i
        s = s.masked_fill(~ok, float("-inf"))
        out[b] = (torch.softmax(s, -1).nan_to_num(0.0) @ v)
        lses.append(torch.logsumexp(s, -1))
    cache_reference.lse = torch.stack(lses)
    return out

def check_append(d, c, gen):
    """Appends Snew rows into a cache; the new rows must land at
    lengths[b] ... (converted to the cache type), everything else unchanged."""
    B, Hkv, Sn, D = c["b"], c["hkv"], c["snew"], c["d"]
    et = DT[c.get("dtype", "bf16")]
    it = {"f32": torch.float32, **DT}[c.get("in_dtype", c.get("dtype", "bf16"))]
    form = c["append"]
    cap = c["smax"] if form == "contiguous" else c["max_pages"] * c["page"]
    k = torch.randn(B, Hkv, Sn, D, generator=gen, device="cuda").to(it)
    v = torch.randn(B, Hkv, Sn, D, generator=gen, device="cuda").to(it)
    lengths = torch.randint(0, cap - Sn + 1, (B,), generator=gen, device="cuda", dtype=torch.int32)
    lengths[0] = 0
    newl = torch.randint(0, Sn + 1, (B,), generator=gen, device="cuda", dtype=torch.int32) if c.get("ragged_new") else None
    if form == "contiguous":
        shape = (B, Hkv, cap, D)
    elif form == "nhd":
        shape = (c["pages"], c["page"], Hkv, D)
    else:
        shape = (c["pages"], Hkv, c["page"], D)
    kc = torch.randn(shape, generator=gen, device="cuda").to(et)
    vc = torch.randn(shape, generator=gen, device="cuda").to(et)
    bt = None
    if form != "contiguous":
        perm = torch.randperm(c["pages"], generator=gen, device="cuda").tolist()
        bt = torch.full((B, c["max_pages"]), -1, dtype=torch.int32, device="cuda")
        at = 0
        for b in range(B):
            n = (int(lengths[b]) + Sn + c["page"] - 1) // c["page"]
            bt[b, :n] = torch.tensor(perm[at:at + n], dtype=torch.int32)
            at += n
    want_k, want_v = kc.clone(), vc.clone()
    for b in range(B):
        n = Sn if newl is None else int(newl[b])
        for s in range(n):
            pos = int(lengths[b]) + s
            for dst, src in ((want_k, k), (want_v, v)):
                if form == "contiguous":
                    dst[b, :, pos] = src[b, :, s].to(et)
                else:
                    pg, slot = int(bt[b, pos // c["page"]]), pos % c["page"]
                    if form == "nhd":
                        dst[pg, slot] = src[b, :, s].to(et)
                    else:
                        dst[pg, :, slot] = src[b, :, s].to(et)
    buffers = [k, v, kc, vc, lengths] + ([newl] if newl is not None else []) + ([bt] if bt is not None else [])
    Launcher(d, c, buffers)()
    torch.cuda.synchronize()
    ok = torch.equal(kc, want_k) and torch.equal(vc, want_v)
    return f"{c['name']}  {'exact PASS' if ok else 'FAIL'}", ok

# CUtensorMapDataType by source dtype; CUtensorMapSwizzle by span in bytes.
TMAP_DT = {torch.bfloat16: 9, torch.float16: 6}
TMAP_SWIZZLE = {0: 0, 32: 1, 64: 2, 128: 3}

def encode_tensor_map(tensor, tm):
    """The 128 bytes of a tiled CUtensorMap over `tensor` (gen.py's
    {"source", "dims", "strides", "box", "swizzle"}): element strides 1, no
    interleave, L2 promotion 256B, out-of-bounds elements read as zero."""
    if tensor.dtype not in TMAP_DT:
        raise ValueError(f"tensor map over a {tensor.dtype} buffer (f16/bf16 only)")
    if not hasattr(cuda, "cuTensorMapEncodeTiled"):
        raise RuntimeError("the CUDA driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12+)")
    dims, strides, box = tm["dims"], tm["strides"], tm["box"]
    rank = len(dims)
    raw = ctypes.create_string_buffer(128 + 64)  # CUtensorMap: 64-byte aligned
    addr = (ctypes.addressof(raw) + 63) & ~63
    enc = cuda.cuTensorMapEncodeTiled
    enc.restype = ctypes.c_int
    enc.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p,
                    ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64),
                    ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint32),
                    ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    check(enc(addr, TMAP_DT[tensor.dtype], rank, tensor.data_ptr(),
              (ctypes.c_uint64 * rank)(*dims), (ctypes.c_uint64 * max(rank - 1, 1))(*strides),
              (ctypes.c_uint32 * rank)(*box), (ctypes.c_uint32 * rank)(*[1] * rank),
              0, TMAP_SWIZZLE[tm["swizzle"]], 3, 0),
          f"cuTensorMapEncodeTiled (source {tm['source']}, dims {dims}, strides {strides}, box {box})")
    return ctypes.string_at(addr, 128)

class Launcher:
    def __init__(self, d, c, buffers):
        self.mod = load_module(os.path.join(d, c["ptx"]))
        self.steps = []
        self.keep = []
        scratch = {}  # one device buffer per memref.alloc, shared by launches
        for p in c["plan"]:
            f = get_function(self.mod, p["kernel"], p["smem"])
            ptrs = []
            for a in p["args"]:
                if isinstance(a, dict) and "tensor_map" in a:
                    # A CUtensorMap over kernel buffer `source` (the buffers
                    # are in ABI order = host argument order), in a 16 x i64
                    # device tensor; identical maps share one.
                    tm = a["tensor_map"]
                    key = json.dumps(tm, sort_keys=True)
                    if key not in scratch:
                        raw = encode_tensor_map(buffers[tm["source"]], tm)
                        scratch[key] = torch.frombuffer(bytearray(raw), dtype=torch.int64).to("cuda")
                    t = scratch[key]
                    self.keep.append(t)
                    ptrs.append(ctypes.c_void_p(t.data_ptr()))
                elif a[0] == "arg":
                    ptrs.append(ctypes.c_void_p(buffers[a[1]].data_ptr()))
                else:
                    if a[2] not in scratch:
                        scratch[a[2]] = torch.empty(a[1], device="cuda", dtype=torch.float32)
                    t = scratch[a[2]]
                    self.keep.append(t)
                    ptrs.append(ctypes.c_void_p(t.data_ptr()))
            params = (ctypes.c_void_p * len(ptrs))(*[ctypes.cast(ctypes.byref(x), ctypes.c_void_p) for x in ptrs])
            self.keep += [ptrs, params]
            self.steps.append((f, p["grid"], p["block"], p["smem"], params))

    def __call__(self):
        stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
        for f, g, bl, smem, params in self.steps:
            check(cuda.cuLaunchKernel(f, g[0], g[1], g[2], bl[0], bl[1], bl[2], smem, stream, params, None), "cuLaunchKernel")

def bench(fn, reps=10, batch=10):
    """Median over `reps` of the mean time of `batch` back-to-back calls:
    the host enqueues ahead of the GPU, so Python's per-launch overhead does
    not show up in kernels longer than a few microseconds."""
    fn(); torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(batch):
            fn()
        e.record(); e.synchronize()
        times.append(s.elapsed_time(e) / batch)
    times.sort()
    return times[len(times) // 2]

def peers(c, q, k, v):
    from torch.nn.attention import sdpa_kernel, SDPBackend
    import torch.nn.functional as F
    causal = c.get("mask", {}).get("causal") == "true" and c["sq"] == c["skv"]
    gqa = c["hq"] != c["hkv"]
    res = {}
    for name, be in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
        try:
            with sdpa_kernel(be):
                fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
                res[name] = bench(fn)
        except Exception as e:
            res[name] = None
    return res

def ceilings():
    """Device-to-device copy (bytes read + written) and a bf16 8192^3 matmul,
    timed like the kernels."""
    n = 1 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    ms = bench(lambda: b.copy_(a))
    x = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    y = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    mm = bench(lambda: x @ y)
    del a, b, x, y
    return 2 * n / ms / 1e9, 2 * 8192 ** 3 / mm / 1e9

def main():
    d = sys.argv[1]
    do_bench = "--bench" in sys.argv
    if do_bench:
        copy_tbps, mm_tflops = ceilings()
        print(f"ceilings: D2D copy {copy_tbps:.2f} TB/s, bf16 8192^3 matmul {mm_tflops:.0f} TF/s", flush=True)
    cases = json.load(open(os.path.join(d, "cases.json")))
    gen = torch.Generator(device="cuda")
    gen.manual_seed(int(time.time()))
    fails = 0
    for c in cases:
        if c.get("bench_only") and not do_bench:
            continue
        try:
            if "append" in c:
                line, ok = check_append(d, c, gen)
                fails += not ok
                print(line, flush=True)
                continue
            if "cache" in c:
                q, k, v, lengths, bt, out = make_cache_inputs(c, gen)
                buffers = [q, k, v, lengths] + ([bt] if bt is not None else []) + [out]
                lse = None
                if c.get("lse"):
                    lse = torch.full((c["b"], c["hq"], c["sq"]), float("nan"), device="cuda")
                    buffers.append(lse)
            else:
                q, k, v, lengths, out = make_inputs(c, gen)
                bt = None
                bias = torch.randn(c["bias"], generator=gen, device="cuda") if "bias" in c else None
                buffers = [q, k, v] + ([bias] if bias is not None else []) + ([lengths] if lengths is not None else []) + [out]
                lse = None
                if c.get("lse"):
                    lse = torch.full((c["b"], c["hq"], c["sq"]), float("nan"), device="cuda")
                    buffers.append(lse)
            run = Launcher(d, c, buffers)
            run(); torch.cuda.synchronize()
            line = c["name"]
            if not c.get("bench_only"):
                ref = cache_reference(c, q, k, v, lengths, bt) if "cache" in c else reference(c, q, k, v, lengths, bias)
                err = (out.double() - ref).abs().max().item()
                scale = max(ref.abs().max().item(), 1e-30)
                rel = err / scale if ref.abs().max().item() > 0 else err
                ok = not math.isnan(err) and not torch.isnan(out).any().item() and rel <= TOL[c.get("dtype", "bf16")]
                fails += not ok
                if lse is not None:
                    want = (cache_reference.lse if "cache" in c else reference.lse)
                    finite = torch.isfinite(want)
                    lse_err = (lse.double()[finite] - want[finite]).abs().max().item() if finite.any() else 0.0
                    lse_ok = (torch.isinf(lse[~finite]).all().item() and not math.isnan(lse_err)
                              and lse_err <= 1e-2 and not torch.isnan(lse).any().item())
                    ok = ok and lse_ok
                    line += f"  lse err {lse_err:.1e}"
                line += f"  rel err {rel:.2e}  {'PASS' if ok else 'FAIL'}"
                if not ok:
                    # Which rows are wrong: (batch, head, query) by error.
                    o = out.double() if c.get("layout") != "bshd" else out.double().transpose(1, 2)
                    r = ref if c.get("layout") != "bshd" else ref.transpose(1, 2)
                    row_err = (o - r).abs().amax(-1).nan_to_num(1e9)
                    bad = (row_err > TOL[c.get("dtype", "bf16")] * scale).nonzero().tolist()
                    line += f"\n    {len(bad)} bad rows of {row_err.numel()}; first: {bad[:12]}"
            if c.get("bench"):
                ms = bench(run)
                B, Hq, Hkv, Sq, D = c["b"], c["hq"], c["hkv"], c["sq"], c["d"]
                Skv = c.get("skv", 0)
                vis = Sq * Skv if c.get("mask", {}).get("causal") != "true" else Sq * (Sq + 1) // 2 + Sq * (Skv - Sq)
                flops = 4 * B * Hq * vis * D
                bytes_ = 2 * (2 * B * Hq * Sq * D + 2 * B * Hkv * Skv * D)
                if "cache" in c:
                    kv_rows = int(lengths.long().sum())
                    bytes_ = 2 * (2 * B * Hq * Sq * D + 2 * kv_rows * Hkv * D)
                p = peers(c, q, k, v) if c.get("layout") != "bshd" and "cache" not in c else {}
                fl = lambda ms_: f"{flops / ms_ / 1e9:.0f} TF/s {bytes_ / ms_ / 1e9:.2f} TB/s" if ms_ else "n/a"
                line += f"  attn {ms:.3f} ms ({fl(ms)})"
                for n, t in p.items():
                    line += f"  {n} {t:.3f} ms ({fl(t)}) ratio {t / ms:.2f}" if t else f"  {n} n/a"
            print(line, flush=True)
        except Exception as e:
            fails += 1
            print(c["name"], "ERROR", e, flush=True)
    print(f"probe: {fails} failures")
    return 1 if fails else 0

if __name__ == "__main__":
    sys.exit(main())
