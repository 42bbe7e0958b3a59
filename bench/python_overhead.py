#!/usr/bin/env python3
"""attn.attention vs PyTorch SDPA from Python, in one process: time per
call (CUDA events around `--runs` back-to-back calls, so Python overhead
counts when the kernel is shorter than the call) and the host-side cost of
one call (what a CPU-bound loop pays). JSON lines on stdout, a table and
progress (case n of N, elapsed) on stderr.

    python3 bench/python_overhead.py [--device cuda|cpu] [--runs 50]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

import attn

# name, (b, hq, hkv, sq, skv, d), causal
CASES = [
    ("tiny b1 h8 s128 d64", (1, 8, 8, 128, 128, 64), True),
    ("decode b64 hq32 hkv8 kv4096 d128", (64, 32, 8, 1, 4096, 128), False),
    ("prefill b4 h32 s4096 d128 causal", (4, 32, 32, 4096, 4096, 128), True),
    ("prefill GQA b4 hq32 hkv8 s4096 causal", (4, 32, 8, 4096, 4096, 128),
     True),
]
CPU_CASES = [("tiny b1 h8 s128 d64", (1, 8, 8, 128, 128, 64), True),
             ("decode b4 hq32 hkv8 kv2048 d128", (4, 32, 8, 1, 2048, 128),
              False)]


def sdpa(q, k, v, causal):
    if q.shape[1] != k.shape[1]:
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                  enable_gqa=True)
        except TypeError:  # torch < 2.5: repeat the kv heads
            r = q.shape[1] // k.shape[1]
            k, v = k.repeat_interleave(r, 1), v.repeat_interleave(r, 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def time_device(fn, runs, device):
    """ms per call over `runs` back-to-back calls."""
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        start.record()
        for _ in range(runs):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / runs
    t = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - t) * 1e3 / runs


def host_us(fn, runs, device):
    """µs of host time per call (not waiting for the GPU)."""
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(runs):
        fn()
    us = (time.perf_counter() - t) * 1e6 / runs
    if device == "cuda":
        torch.cuda.synchronize()
    return us


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available()
                   else "cpu")
    p.add_argument("--runs", type=int, default=50)
    a = p.parse_args()
    dev = a.device
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    cases = CASES if dev == "cuda" else CPU_CASES
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    t0 = time.time()
    rows = []
    for n, (name, (b, hq, hkv, sq, skv, d), causal) in enumerate(cases, 1):
        print(f"[{n}/{len(cases)}] {name} ({time.time() - t0:.0f} s)",
              file=sys.stderr, flush=True)
        q = torch.randn(b, hq, sq, d, device=dev, dtype=dtype)
        k = torch.randn(b, hkv, skv, d, device=dev, dtype=dtype)
        v = torch.randn(b, hkv, skv, d, device=dev, dtype=dtype)
        out = torch.empty_like(q)
        kernel = attn.compile(attn.spec_string(
            b, hq, hkv, sq, skv, d, d, "bf16" if dev == "cuda" else "f32",
            causal=causal), target="cuda" if dev == "cuda" else "cpu")
        fns = {"attn.attention": lambda: attn.attention(q, k, v, causal=causal,
                                                        out=out),
               "attn Kernel": lambda: kernel(q, k, v, output=out)}
        if has_sdpa:
            fns["SDPA"] = lambda: sdpa(q, k, v, causal)
        runs = a.runs if sq * skv * b * hq < 2**31 else max(5, a.runs // 5)
        row = {"case": name, "device": dev, "dtype": str(dtype)[6:]}
        for label, fn in fns.items():
            row[f"{label} ms"] = time_device(fn, runs, dev)
            row[f"{label} host us"] = host_us(fn, runs, dev)
        if has_sdpa:
            ref = sdpa(q, k, v, causal).float()
            got = attn.attention(q, k, v, causal=causal).float()
            row["max |attn - SDPA|"] = (got - ref).abs().max().item()
        print(json.dumps(row), flush=True)
        rows.append(row)
    cols = [c for c in rows[0] if c.endswith(("ms", "us"))]
    print(f"{'case':40}" + "".join(f"{c:>22}" for c in cols), file=sys.stderr)
    for r in rows:
        print(f"{r['case']:40}" + "".join(f"{r[c]:22.3f}" for c in cols),
              file=sys.stderr)
    print("host us: time the Python call holds the CPU (attn.attention - attn "
          "Kernel = shape checks + spec lookup; Kernel = ctypes marshalling + "
          "validation + launch)", file=sys.stderr)


if __name__ == "__main__":
    main()
