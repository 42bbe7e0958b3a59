#!/usr/bin/env python3
"""The backward's peers for `attn-bench-gpu --backward`, measured with PyTorch.

Prints one JSON line per measurement, with the case names of
bench/GpuBench.cpp's backwardCases():

  {"impl": "FLASH", "case": "backward_causal_b1_s4096_hq32_hkv8_d128",
   "ms": ..., "tflops": ..., "gqa": "enable_gqa"}

Peers: torch SDPA's FLASH_ATTENTION and CUDNN_ATTENTION backends
(torch.nn.attention.sdpa_kernel), bf16, the forward run once with
requires_grad and `out.backward(dO, retain_graph=True)` timed alone with
CUDA events (median of --runs after --warmup; gradients reset to None
between calls so no accumulation kernel is timed). GQA goes through
enable_gqa=True; a backend that refuses it is measured on K/V expanded to
the query heads (repeat_interleave outside the timed region; its backward
then also sums the expanded gradients back, which the "gqa" field says).
FLOPs: 2.5 x the forward's (benchschema.work), as FlashAttention counts
them. A failing peer prints {"impl": ..., "case": ..., "error": ...}.

usage: python3 bench/gpu_backward_peers.py [--case NAME]... [--runs N]
"""
import argparse
import json
import sys
import traceback

from benchschema import shape as case_shape, work

CASES = [
    # name, b, hq, hkv, s, causal, d
    ("backward_causal_b1_s4096_hq32_hkv8_d128", 1, 32, 8, 4096, True, 128),
    ("backward_full_b1_s4096_hq32_hkv8_d128", 1, 32, 8, 4096, False, 128),
]


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = torch.device("cuda")
    emit({"impl": "torch", "case": "device",
          "device": torch.cuda.get_device_name(0), "torch": torch.__version__})

    def time_backward(out, grad, leaves):
        def once():
            for t in leaves:
                t.grad = None
            out.backward(grad, retain_graph=True)
        for _ in range(args.warmup):
            once()
        torch.cuda.synchronize()
        ms = []
        for _ in range(args.runs):
            s = torch.cuda.Event(enable_timing=True)
            e = torch.cuda.Event(enable_timing=True)
            s.record()
            once()
            e.record()
            e.synchronize()
            ms.append(s.elapsed_time(e))
        ms.sort()
        n = len(ms)
        return ms[n // 2] if n % 2 else 0.5 * (ms[n // 2 - 1] + ms[n // 2])

    for name, b, hq, hkv, s, causal, d in CASES:
        if args.case and name not in args.case:
            continue
        shape = case_shape(b, hq, hkv, s, s, d, d, dtype="bf16", causal=causal)
        fl = 2.5 * work(shape)[0]
        gen = torch.Generator(device=dev).manual_seed(0)

        def rand(*size):
            return torch.randn(*size, dtype=torch.bfloat16, device=dev,
                               generator=gen)
        q0, k0, v0 = rand(b, hq, s, d), rand(b, hkv, s, d), rand(b, hkv, s, d)
        grad = rand(b, hq, s, d)
        for impl, backend in (("FLASH", SDPBackend.FLASH_ATTENTION),
                              ("CUDNN", SDPBackend.CUDNN_ATTENTION)):
            result = None
            for mode in ("enable_gqa", "expanded"):
                try:
                    q = q0.clone().requires_grad_()
                    k = k0.clone().requires_grad_()
                    v = v0.clone().requires_grad_()
                    kk, vv = k, v
                    if mode == "expanded":
                        kk = k.repeat_interleave(hq // hkv, dim=1)
                        vv = v.repeat_interleave(hq // hkv, dim=1)
                    with sdpa_kernel(backend):
                        out = F.scaled_dot_product_attention(
                            q, kk, vv, is_causal=causal,
                            enable_gqa=(mode == "enable_gqa" and hq != hkv))
                        ms = time_backward(out, grad, (q, k, v))
                    result = {"impl": impl, "case": name, "kind": "backward",
                              "ms": ms, "shape": shape, "flops": fl,
                              "tflops": fl / (ms * 1e9), "gqa": mode}
                    break
                except Exception as e:  # noqa: BLE001
                    msg = "".join(traceback.format_exception_only(type(e), e))
                    result = {"impl": impl, "case": name,
                              "error": msg.strip()[-400:]}
            emit(result)
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
