"""The benchmarks' JSON-lines schema and the one definition of a case's work.

Every benchmark (attn-bench-cpu-prefill --json, attn-bench-cpu-decode
--json, attn-bench-gpu / attn-gpu-tests --bench, bench/gpu_peers.py) prints
one JSON object per line:

  {"impl": "attn", "case": NAME, "kind": "prefill" | "decode" | "backward",
   "ms": 1.2,
   "shape": {"b": 4, "hq": 32, "hkv": 8, "sq": 4096, "skv": 4096, "d": 128,
             "dv": 128, "dtype": "bf16", "causal": true, "q_offset": 0,
             "window_left": -1, "window_right": -1},
   "flops": ..., "bytes": ..., "tflops" | "gflops": ..., "tbps" | "gbps": ...}

  impl: "attn" (and variants such as "attn-mma.sync"), a peer ("FLASH",
  "CUDNN", "Flex", "gemm-softmax-gemm"), a ceiling measured next to each
  case ("read-stream", "memcpy": same case name, a "gbps"), or "ceiling"
  for a machine ceiling (case "ceiling_*", a rate only);
  case "device": {"device": "...", ...} names the machine.
  A failed measurement is {"impl": ..., "case": ..., "error": "..."}.

Rates come in the unit of the machine (GFLOP/s and GB/s on the CPU,
TFLOP/s and TB/s on the GPU); `rate()` reads either. Extra keys
(compile_ms, of_sgemm, plan, ...) are the benchmark's own.

`work(shape)` derives FLOPs and bytes from the case parameters the same way
as AttentionSpec::flops() (dialect/AttentionSpec.cpp): 2 flops per
multiply-add of Q·Kᵀ and P·V over the positions the mask leaves visible,
and bytes of q + k + v + out (a decode step reads each K/V row once).
bench/plot.py uses it for every record (and checks it against the
benchmark's own "flops"); bench/gpu_peers.py uses it for the peers.
"""
import json
import sys

ELEMENT_BYTES = {"f32": 4, "f16": 2, "bf16": 2}


def shape(b, hq, hkv, sq, skv, d, dv=None, dtype="bf16", causal=False,
          q_offset=0, window_left=-1, window_right=-1):
    """A case's "shape" object."""
    return {"b": b, "hq": hq, "hkv": hkv, "sq": sq, "skv": skv, "d": d,
            "dv": d if dv is None else dv, "dtype": dtype, "causal": causal,
            "q_offset": q_offset, "window_left": window_left,
            "window_right": window_right}


def visible_keys(i, skv, causal, left, right):
    """Keys j in [0, skv) query position i sees (MaskSpec::allows without
    dilation or global tokens)."""
    lo, hi = 0, skv - 1
    if causal:
        hi = min(hi, i)
    if left >= 0:
        lo = max(lo, i - left)
    if right >= 0:
        hi = min(hi, i + right)
    return max(0, hi - lo + 1)


def work(s):
    """(flops, bytes) of one call of the case with shape `s`."""
    causal = bool(s.get("causal", False))
    off = int(s.get("q_offset", 0))
    left, right = int(s.get("window_left", -1)), int(s.get("window_right", -1))
    sq, skv = int(s["sq"]), int(s["skv"])
    if not causal and left < 0 and right < 0:
        visible = sq * skv
    else:
        visible = sum(visible_keys(i + off, skv, causal, left, right)
                      for i in range(sq))
    b, hq, hkv = int(s["b"]), int(s["hq"]), int(s["hkv"])
    d, dv = int(s["d"]), int(s.get("dv", s["d"]))
    flops = 2.0 * visible * (d + dv) * b * hq
    elt = ELEMENT_BYTES[s.get("dtype", "bf16")]
    nbytes = elt * b * (hq * sq * d + hkv * skv * (d + dv) + hq * sq * dv)
    return flops, float(nbytes)


def rate(r, what):
    """A record's FLOP/s (what="flops") or bytes/s ("bytes"), or None."""
    keys = {"flops": (("tflops", 1e12), ("gflops", 1e9)),
            "bytes": (("tbps", 1e12), ("gbps", 1e9))}[what]
    for key, scale in keys:
        if isinstance(r.get(key), (int, float)):
            return r[key] * scale
    return None


def load(path):
    """The records of a JSON-lines file; other lines (logs) are skipped."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    except OSError as e:
        print(f"cannot read {path}: {e}", file=sys.stderr)
    return rows
