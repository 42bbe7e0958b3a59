#!/usr/bin/env python3
"""Peers and ceilings for attn's GPU benchmark, measured with PyTorch.

Prints one JSON line per measurement, with the case names of
bench/GpuBench.cpp (attn-bench-gpu):

  {"impl": "FLASH", "case": "prefill_causal_b4_s4096_h32_d128", "ms": ...,
   "tflops": ..., "tbps": ...}
  {"impl": "ceiling", "case": "ceiling_matmul_bf16_8192", "tflops": ...}
  {"impl": "ceiling", "case": "ceiling_d2d_copy", "tbps": ...}

Peers: torch SDPA with the FLASH_ATTENTION and CUDNN_ATTENTION backends
(torch.nn.attention.sdpa_kernel; enable_gqa=True for GQA) and FlexAttention
under torch.compile. Timing: triton.testing.do_bench, median (CUDA events).
FLOPs and bytes come from benchschema.work(shape), the same count as
AttentionSpec::flops() (visible positions, causal = s(s+1)/2 per head) and
q + k + v + out bytes; each line carries the case's "shape" (the schema of
bench/benchschema.py, which bench/plot.py reads). A failing peer prints
{"impl": ..., "case": ..., "error": ...} and the rest go on. Progress (case
n of N, elapsed) goes to stderr.

usage: python3 bench/gpu_peers.py [--case NAME]... [--skip flex]...
"""
import argparse
import json
import sys
import time
import traceback

from benchschema import shape as case_shape, work

CASES = [
    # name, kind, b, hq, hkv, sq, skv, causal[, d, dv[, dropout_p]]
    # (d = dv = 128 unless given)
    ("prefill_causal_b4_s4096_h32_d128", "prefill", 4, 32, 32, 4096, 4096, True),
    ("prefill_full_b4_s4096_h32_d128", "prefill", 4, 32, 32, 4096, 4096, False),
    ("prefill_gqa_causal_b4_s4096_hq32_hkv8_d128", "prefill", 4, 32, 8, 4096, 4096, True),
    ("prefill_causal_b4_s4096_h32_d64", "prefill", 4, 32, 32, 4096, 4096, True, 64, 64),
    ("prefill_causal_d256_b4_s4096_hq16_hkv8", "prefill", 4, 16, 8, 4096, 4096, True, 256, 256),
    ("prefill_causal_d192_dv128_b4_s4096_h16", "prefill", 4, 16, 16, 4096, 4096, True, 192, 128),
    ("prefill_causal_dropout_b4_s4096_h32_d128", "prefill", 4, 32, 32, 4096, 4096, True, 128, 128, 0.1),
    ("decode_b64_kv4096_hq32_hkv32", "decode", 64, 32, 32, 1, 4096, False),
    ("decode_b64_kv4096_hq32_hkv8", "decode", 64, 32, 8, 1, 4096, False),
    ("decode_b64_kv4096_hq32_hkv1", "decode", 64, 32, 1, 1, 4096, False),
    ("decode_b8_kv32768_hq32_hkv8", "decode", 8, 32, 8, 1, 32768, False),
    ("decode_b1_kv32768_hq32_hkv8", "decode", 1, 32, 8, 1, 32768, False),
    ("decode_b4_kv8192_hq32_hkv8", "decode", 4, 32, 8, 1, 8192, False),
]


def emit(obj):
    print(json.dumps(obj), flush=True)


def progress(n, total, what, start):
    print(f"[{n}/{total}] {what} (elapsed {time.monotonic() - start:.1f} s)",
          file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--skip", action="append", default=[],
                    help="flash, cudnn, flex or ceilings")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from triton.testing import do_bench

    dev = torch.device("cuda")
    emit({"impl": "torch", "case": "device",
          "device": torch.cuda.get_device_name(0),
          "torch": torch.__version__})

    def bench(fn):
        fn()
        torch.cuda.synchronize()
        return do_bench(fn, warmup=25, rep=100, return_mode="median")

    cases = [c for c in CASES if not args.case or c[0] in args.case]
    steps = len(cases) + ("ceilings" not in args.skip)
    start = time.monotonic()
    if "ceilings" not in args.skip:
        progress(1, steps, "ceilings (D2D copy, bf16 matmul)", start)
        try:
            # 1 GiB, as attn-bench-gpu's copy; bytes read + written.
            src = torch.ones(1 << 30, dtype=torch.uint8, device=dev)
            dst = torch.empty_like(src)
            ms = bench(lambda: dst.copy_(src))
            emit({"impl": "ceiling", "case": "ceiling_d2d_copy", "ms": ms,
                  "tbps": 2.0 * src.numel() / (ms * 1e9)})
            del src, dst
        except Exception as e:  # noqa: BLE001
            emit({"impl": "ceiling", "case": "ceiling_d2d_copy", "error": repr(e)})
        try:
            m = 8192
            a = torch.randn(m, m, dtype=torch.bfloat16, device=dev)
            b = torch.randn(m, m, dtype=torch.bfloat16, device=dev)
            ms = bench(lambda: a @ b)
            emit({"impl": "ceiling", "case": "ceiling_matmul_bf16_8192", "ms": ms,
                  "tflops": 2.0 * m ** 3 / (ms * 1e9)})
            del a, b
        except Exception as e:  # noqa: BLE001
            emit({"impl": "ceiling", "case": "ceiling_matmul_bf16_8192",
                  "error": repr(e)})

    from torch.nn.attention import SDPBackend, sdpa_kernel
    flex_attention = create_block_mask = None
    if "flex" not in args.skip:
        try:
            from torch.nn.attention.flex_attention import (create_block_mask,
                                                           flex_attention)
            flex_attention = torch.compile(flex_attention, dynamic=False)
        except Exception as e:  # noqa: BLE001
            emit({"impl": "Flex", "case": "import", "error": repr(e)})

    for n, case in enumerate(cases, steps - len(cases) + 1):
        name, kind, b, hq, hkv, sq, skv, causal = case[:8]
        d, dv = case[8:10] if len(case) > 8 else (128, 128)
        dropout_p = case[10] if len(case) > 10 else 0.0
        progress(n, steps, name, start)
        gen = torch.Generator(device=dev).manual_seed(0)
        q = torch.randn(b, hq, sq, d, dtype=torch.bfloat16, device=dev, generator=gen)
        k = torch.randn(b, hkv, skv, d, dtype=torch.bfloat16, device=dev, generator=gen)
        v = torch.randn(b, hkv, skv, dv, dtype=torch.bfloat16, device=dev, generator=gen)
        shape = case_shape(b, hq, hkv, sq, skv, d, dv, dtype="bf16", causal=causal)
        fl, nbytes = work(shape)
        gqa = hq != hkv

        def record(impl, fn):
            try:
                ms = bench(fn)
                emit({"impl": impl, "case": name, "kind": kind, "ms": ms,
                      "shape": shape, "flops": fl, "bytes": nbytes,
                      "tflops": fl / (ms * 1e9), "tbps": nbytes / (ms * 1e9)})
            except Exception as e:  # noqa: BLE001
                msg = "".join(traceback.format_exception_only(type(e), e)).strip()
                emit({"impl": impl, "case": name, "error": msg[-400:]})

        for impl, backend in (("FLASH", SDPBackend.FLASH_ATTENTION),
                              ("CUDNN", SDPBackend.CUDNN_ATTENTION)):
            if impl.lower() in args.skip:
                continue

            def run(backend=backend):
                with sdpa_kernel(backend):
                    return F.scaled_dot_product_attention(
                        q, k, v, is_causal=causal, enable_gqa=gqa,
                        dropout_p=dropout_p)
            record(impl, run)

        if flex_attention is not None and not dropout_p:  # Flex has none
            try:
                block_mask = None
                if causal:
                    def causal_mask(b_, h_, qi, kj):
                        return qi >= kj
                    block_mask = create_block_mask(causal_mask, None, None, sq,
                                                   skv, device=dev)
                record("Flex", lambda: flex_attention(
                    q, k, v, block_mask=block_mask, enable_gqa=gqa))
            except Exception as e:  # noqa: BLE001
                emit({"impl": "Flex", "case": name, "error": repr(e)[-400:]})
        del q, k, v
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
