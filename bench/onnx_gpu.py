#!/usr/bin/env python3
"""The same .onnx files through ONNX Runtime and attn, side by side.

Run on the GPU machine by scripts/gpu-check.sh (step "onnx"), or anywhere:

    python3 bench/onnx_gpu.py --tool BIN/attn-import-onnx DIR [DIR ...]

Every NAME.onnx in DIR with NAME.in<i>.npy inputs and NAME.out<i>.npy
references (test/onnx/export_seeds.py, make_handbuilt.py) is run by

  - ONNX Runtime, CPUExecutionProvider, one intra-op thread (attn's
    whole-model --run is one thread: same threads);
  - ONNX Runtime, CUDAExecutionProvider (nodes it lacks fall back to the
    CPU, as ORT places them), when the GPU and the provider are there;
  - attn: attn-import-onnx --run --bench (raised, JIT on the CPU), and
    --target=cuda, whose one-line answer is printed (docs/onnx.md).

Prints one line per model and runner: max abs error against the PyTorch /
NumPy reference and the median time per call (ms); at the end the
ratios. Without onnxruntime it prints one line and exits 0 (fails soft);
it exits 1 only when an output is outside the tolerance (1e-4 + 1e-3 |ref|
for the CUDA EP, which may use TF32; 1e-5 + 1e-4 |ref| otherwise).
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

import numpy as np


def median_ms(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return sorted(times)[len(times) // 2]


def check(outs, refs, atol, rtol):
    worst, ok = 0.0, True
    for o, r in zip(outs, refs):
        err = np.abs(o.astype(np.float64) - r.astype(np.float64))
        worst = max(worst, float(np.nanmax(err)) if err.size else 0.0)
        ok &= bool(np.all(err <= atol + rtol * np.abs(r)))
    return worst, ok


def run_ort(ort, path, inputs, refs, provider, runs):
    opts = ort.SessionOptions()
    if provider == "CPUExecutionProvider":
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(path, opts, providers=[provider])
    except Exception as e:  # an op or type the provider cannot place
        return None, "cannot load: " + str(e).splitlines()[0][:160]
    if provider not in sess.get_providers():
        return None, provider + " not in the session's providers"
    feed = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    names = [o.name for o in sess.get_outputs()]
    try:
        outs = sess.run(names, feed)
    except Exception as e:
        return None, "run failed: " + str(e).splitlines()[0][:160]
    cuda = provider == "CUDAExecutionProvider"
    err, ok = check(outs, refs, 1e-4 if cuda else 1e-5, 1e-3 if cuda else 1e-4)
    ms = median_ms(lambda: sess.run(names, feed), runs)
    return (ms, err, ok), None


def run_attn(tool, path, ins, refs, runs):
    args = [tool, path] + ["--input=" + f for f in ins] + ["--expect=" + f for f in refs]
    p = subprocess.run(args + ["--bench", "--runs=%d" % runs], capture_output=True, text=True)
    if p.returncode not in (0, 1) or "time per call" not in p.stdout:
        return None, (p.stderr.strip() or p.stdout.strip())[:200]
    ms = float(re.search(r"time per call: ([0-9.]+) ms", p.stdout).group(1))
    errs = [float(x) for x in re.findall(r"max abs error ([0-9.e+-]+|nan)", p.stdout)]
    return (ms, max(errs) if errs else float("nan"), p.returncode == 0), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnx: onnxruntime is not installed here; skipped (pip install onnxruntime-gpu)")
        return 0
    providers = ort.get_available_providers()
    print("onnx: onnxruntime %s, providers %s" % (ort.__version__, ", ".join(providers)))
    models = sorted(m for d in a.dirs for m in glob.glob(os.path.join(d, "*.onnx"))
                    if glob.glob(m[:-5] + ".in*.npy") or glob.glob(m[:-5] + ".out*.npy"))
    failed = False
    rows = []
    for path in models:
        stem = path[:-5]
        ins = sorted(glob.glob(stem + ".in*.npy"))
        refs_f = sorted(glob.glob(stem + ".out*.npy"))
        inputs = [np.load(f) for f in ins]
        refs = [np.load(f) for f in refs_f]
        name = os.path.basename(stem)
        result = {}
        for label, prov in (("ort-cpu-1t", "CPUExecutionProvider"), ("ort-cuda", "CUDAExecutionProvider")):
            if prov not in providers:
                print("%-16s %-11s skipped: no %s" % (name, label, prov))
                continue
            r, why = run_ort(ort, path, inputs, refs, prov, a.runs)
            result[label] = r
            print("%-16s %-11s %s" % (name, label, why if why else
                  "%9.4f ms  max err %.2e  %s" % (r[0], r[1], "ok" if r[2] else "FAIL")))
            failed |= bool(r and not r[2])
        r, why = run_attn(a.tool, path, ins, refs_f, a.runs)
        result["attn-cpu-1t"] = r
        print("%-16s %-11s %s" % (name, "attn-cpu-1t", why if why else
              "%9.4f ms  max err %.2e  %s" % (r[0], r[1], "ok" if r[2] else "FAIL")))
        failed |= bool(r and not r[2])
        p = subprocess.run([a.tool, path, "--run", "--target=cuda"], capture_output=True, text=True)
        print("%-16s %-11s %s" % (name, "attn-cuda", (p.stderr.strip() or "ran")[:160]))
        rows.append((name, result))
    print("onnx: time per call (ms), same .onnx files and inputs:")
    print("%-16s %12s %12s %12s %14s" % ("model", "ort-cpu-1t", "ort-cuda", "attn-cpu-1t", "ort-cpu/attn"))
    for name, res in rows:
        get = lambda k: res.get(k)[0] if res.get(k) else float("nan")
        print("%-16s %12.4f %12.4f %12.4f %14.2f" % (name, get("ort-cpu-1t"), get("ort-cuda"),
                                                    get("attn-cpu-1t"), get("ort-cpu-1t") / get("attn-cpu-1t")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
