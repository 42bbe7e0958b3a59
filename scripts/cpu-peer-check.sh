#!/usr/bin/env bash
# Runs on the lent GPU machine's CPU (through the `device` tool): attn's CPU
# benchmarks (statically linked attn-bench-cpu-prefill / attn-bench-cpu-decode
# carried in .device-carry/) next to PyTorch's CPU SDPA on the same shapes,
# threads and machine, with the same ceilings as here: OpenBLAS sgemm with
# the CPU's own kernels (the benchmark re-executes itself with the right
# OPENBLAS_CORETYPE when OpenBLAS falls back to older ones) and the peak FMA
# rate (register-only loop). Prepare the carry folder here with
#   ATTN_BUNDLE_TARGETS="attn-bench-cpu-prefill attn-bench-cpu-decode" \
#     scripts/gpu-bundle.sh          (see docs/performance.md)
set -euo pipefail
carry=.device-carry
work=$(mktemp -d)
# The decode benchmark is optional (the carry limit may hold only one).
for tool in attn-bench-cpu-prefill attn-bench-cpu-decode; do
  [ -f "$carry/$tool.xz" ] || continue
  xz -dc "$carry/$tool.xz" > "$work/$tool"
  chmod +x "$work/$tool"
done
# Debian's LLVM is built with Z3: the one shared library the tools keep.
if [ -f "$carry/libz3.so.4.xz" ]; then
  xz -dc "$carry/libz3.so.4.xz" > "$work/libz3.so.4"
  export LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
lscpu | grep -E "Model name|^CPU\(s\)|^CPU family|^Model:|Flags" | cut -c1-400 || true
threads_list=(2 "$(nproc)")

shapes=("mha:b=8,hq=12,s=1024,d=64,causal"
        "gqa:b=1,hq=32,hkv=8,s=4096,d=128,causal"
        "gqa:b=1,hq=32,hkv=8,sq=1,skv=4096,d=128"
        "gqa:b=16,hq=32,hkv=8,sq=1,skv=4096,d=128"
        # bf16 (AVX512-BF16 / AMX where the CPU has them): torch runs bf16 too.
        "mha:b=8,hq=12,s=1024,d=64,causal,dtype=bf16"
        "gqa:b=1,hq=32,hkv=8,s=4096,d=128,causal,dtype=bf16")

for threads in "${threads_list[@]}"; do
  args=()
  for s in "${shapes[@]}"; do args+=("--shape=$s"); done
  "$work/attn-bench-cpu-prefill" --bench-threads="$threads" --bench-reps=5 \
    --baseline=false --json "${args[@]}" > "$work/attn-$threads.json"
done

python3 - "$work" "${threads_list[@]}" <<'PY'
import json, sys, time
import torch
import torch.nn.functional as F

work, threads_list = sys.argv[1], [int(t) for t in sys.argv[2:]]

def parse(spec):
    kind, rest = spec.split(":")
    kv = dict(p.split("=") if "=" in p else (p, "1") for p in rest.split(","))
    b, hq = int(kv.get("b", 1)), int(kv.get("hq", 1))
    hkv = hq if kind == "mha" else int(kv.get("hkv", 1))
    s = int(kv.get("s", 1)); sq, skv = int(kv.get("sq", s)), int(kv.get("skv", s))
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}.get(kv.get("dtype"), torch.float32)
    return b, hq, hkv, sq, skv, int(kv["d"]), "causal" in kv, dtype

def median_ms(fn, reps=5):
    for _ in range(2): fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1e3

def torch_ms(spec):
    b, hq, hkv, sq, skv, d, causal, dtype = parse(spec)
    q, k, v = (torch.randn(*shape).to(dtype) for shape in
               ((b, hq, sq, d), (b, hkv, skv, d), (b, hkv, skv, d)))
    # Bottom-right causal (queries at the end), as attn's cache decode; for
    # sq == skv it equals the usual causal mask.
    mask = None
    if causal and sq != skv:
        mask = torch.ones(sq, skv, dtype=torch.bool).tril(skv - sq)
    return median_ms(lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
        is_causal=causal and mask is None, enable_gqa=hq != hkv))

def torch_sgemm_gflops(n=2048):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / median_ms(lambda: a @ b) / 1e6

print(f"torch {torch.__version__}")
for threads in threads_list:
    torch.set_num_threads(threads)
    # JSON lines (bench/benchschema.py): device, ceilings, one per shape.
    lines = [json.loads(l) for l in open(f"{work}/attn-{threads}.json")
             if l.startswith("{")]
    by = {r["case"]: r for r in lines if r["impl"] in ("attn", "ceiling")}
    dev = by["device"]
    print(f"threads {threads}: {dev['blas']}")
    print(f"  ceilings: OpenBLAS sgemm {by['ceiling_sgemm_2048']['gflops']:.1f} GFLOP/s, "
          f"peak FMA ({dev['fma_isa']}) {by['ceiling_peak_fma']['gflops']:.1f} GFLOP/s; "
          f"torch.mm 2048^3 {torch_sgemm_gflops():.1f} GFLOP/s")
    print(f"{'shape':44} {'thr':>3} {'attn ms':>9} {'GFLOP/s':>8} {'/sgemm':>7} "
          f"{'/peak':>6} {'torch ms':>9} {'vs torch':>8}")
    for row in (r for r in lines if r["impl"] == "attn" and "ms" in r):
        t = torch_ms(row["case"])
        print(f"{row['case']:44} {threads:3d} {row['ms']:9.3f} {row['gflops']:8.1f} "
              f"{row['of_sgemm']:7.2f} {row['of_peak']:6.2f} {t:9.3f} {t / row['ms']:8.2f}",
              flush=True)
PY
[ -x "$work/attn-bench-cpu-decode" ] || exit 0
for threads in "${threads_list[@]}"; do
  "$work/attn-bench-cpu-decode" --bench-threads="$threads" --kv=4096 --batch=1,16
  "$work/attn-bench-cpu-decode" --bench-threads="$threads" --kv=65536 --batch=1
done
