#!/usr/bin/env python3
"""PyTorch's attention layer on seed 004's shape, the peer of
attn-bench-cpu-layer: nn.MultiheadAttention (batch first, causal boolean
mask, need_weights=False) and an SDPA layer (one Linear to QKV, head split,
F.scaled_dot_product_attention with is_causal where torch has it, else the
matmul-softmax-matmul math, output Linear). Same threads (--threads, default
1), least process CPU time of --reps runs, ms per layer.

Run with OPENBLAS_CORETYPE=SkylakeX on this machine (Debian's OpenBLAS
misdetects the CPU; torch's CPU GEMMs go through it).
"""
import argparse
import time

import torch
import torch.nn.functional as F


def min_cpu_ms(fn, reps):
    fn()
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        best = min(best, (time.process_time() - t0) * 1e3)
    return best


def min_wall_ms(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


class SdpaLayer(torch.nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.h = h
        self.qkv = torch.nn.Linear(e, 3 * e)
        self.out = torch.nn.Linear(e, e)

    def forward(self, x):
        b, s, e = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, e // self.h).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5)
            causal = torch.ones(s, s, dtype=torch.bool).triu(1)
            a = scores.masked_fill(causal, float("-inf")).softmax(-1) @ v
        return self.out(a.transpose(1, 2).reshape(b, s, e))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("-b", type=int, default=8)
    p.add_argument("-s", type=int, default=1024)
    p.add_argument("-e", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.b, a.s, a.e)
    mha = torch.nn.MultiheadAttention(a.e, a.heads, batch_first=True).eval()
    mask = torch.ones(a.s, a.s, dtype=torch.bool).triu(1)
    sdpa = SdpaLayer(a.e, a.heads).eval()
    def run_mha():
        return mha(x, x, x, attn_mask=mask, need_weights=False)

    with torch.inference_mode():
        mha_ms = min_cpu_ms(run_mha, a.reps)
        sdpa_ms = min_cpu_ms(lambda: sdpa(x), a.reps)
        mha_wall = min_wall_ms(run_mha, a.reps)
        sdpa_wall = min_wall_ms(lambda: sdpa(x), a.reps)
    kind = ("F.scaled_dot_product_attention"
            if hasattr(F, "scaled_dot_product_attention") else
            "matmul-softmax-matmul (no SDPA in this torch)")
    print(f"torch {torch.__version__}, threads {a.threads}, least process CPU "
          f"time (all threads) of {a.reps} runs, then least wall time; "
          f"b{a.b} s{a.s} E{a.e} h{a.heads}, causal, f32")
    print(f"{'nn.MultiheadAttention':44s} {mha_ms:9.1f} ms CPU "
          f"{mha_wall:9.1f} ms wall")
    print(f"{'SDPA layer: ' + kind:44s} {sdpa_ms:9.1f} ms CPU "
          f"{sdpa_wall:9.1f} ms wall")


if __name__ == "__main__":
    main()
