#!/usr/bin/env bash
# Runs on the lent GPU machine's 16-core CPU (through the `device` tool):
# attn's CPU kernels (statically linked attn-run / attn-decode-loop carried
# in .device-carry/) next to PyTorch's CPU SDPA on the same shapes, threads
# and machine. Prints one table. Prepare the carry folder here with
#   ATTN_BUILD=build-static ATTN_CMAKE_ARGS=-DATTN_STATIC_TOOLS=ON ... (see
#   docs/performance.md), then xz the two binaries into .device-carry/.
set -euo pipefail
carry=.device-carry
work=$(mktemp -d)
for tool in attn-run attn-decode-loop; do
  xz -dc "$carry/$tool.xz" > "$work/$tool"
  chmod +x "$work/$tool"
done
# Debian's LLVM is built with Z3: the one shared library the tools keep.
if [ -f "$carry/libz3.so.4.xz" ]; then
  xz -dc "$carry/libz3.so.4.xz" > "$work/libz3.so.4"
  export LD_LIBRARY_PATH="$work${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
lscpu | grep -E "Model name|^CPU\(s\)" || true

shapes=("mha:b=8,hq=12,s=1024,d=64,causal"
        "gqa:b=1,hq=32,hkv=8,s=4096,d=128,causal"
        "gqa:b=1,hq=32,hkv=8,sq=1,skv=4096,d=128"
        "gqa:b=16,hq=32,hkv=8,sq=1,skv=4096,d=128")

python3 - "$work" "${shapes[@]}" <<'PY'
import json, subprocess, sys, time
import torch
import torch.nn.functional as F

work, shapes = sys.argv[1], sys.argv[2:]

def parse(spec):
    kind, rest = spec.split(":")
    kv = dict(p.split("=") if "=" in p else (p, "1") for p in rest.split(","))
    b, hq = int(kv.get("b", 1)), int(kv.get("hq", 1))
    hkv = hq if kind == "mha" else int(kv.get("hkv", 1))
    s = int(kv.get("s", 1)); sq, skv = int(kv.get("sq", s)), int(kv.get("skv", s))
    return b, hq, hkv, sq, skv, int(kv["d"]), "causal" in kv

def torch_ms(spec, threads):
    torch.set_num_threads(threads)
    b, hq, hkv, sq, skv, d, causal = parse(spec)
    q = torch.randn(b, hq, sq, d); k = torch.randn(b, hkv, skv, d); v = torch.randn(b, hkv, skv, d)
    # Bottom-right causal (queries at the end), as attn's cache decode; for
    # sq == skv it equals the usual causal mask.
    mask = None
    if causal and sq != skv:
        mask = torch.ones(sq, skv, dtype=torch.bool).tril(skv - sq)
    def run():
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
            is_causal=causal and mask is None, enable_gqa=hq != hkv)
    for _ in range(2): run()
    times = []
    for _ in range(5):
        t0 = time.perf_counter(); run(); times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1e3

def attn_ms(spec, threads):
    out = subprocess.run([f"{work}/attn-run", spec, "--bench", "--json", "--runs=5",
                          f"--threads={threads}"], capture_output=True, text=True)
    if out.returncode != 0:
        return float("nan"), out.stderr.strip()[:120]
    j = json.loads(out.stdout)
    return j["bench"]["time_ms"] if "bench" in j else float("nan"), ""

print(f"torch {torch.__version__}")
print(f"{'shape':44} {'thr':>3} {'attn ms':>9} {'torch ms':>9} {'speedup':>8}")
for spec in shapes:
    for threads in (2, 16):
        a, err = attn_ms(spec, threads)
        t = torch_ms(spec, threads)
        print(f"{spec:44} {threads:3d} {a:9.3f} {t:9.3f} {t / a:8.2f} {err}", flush=True)
PY
"$work/attn-decode-loop" 64 16
