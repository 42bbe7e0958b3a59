#!/usr/bin/env python3
"""The same .onnx files through ONNX Runtime and attn, side by side.

Run on the GPU machine by scripts/gpu-check.sh (step "onnx"), or anywhere:

    python3 bench/onnx_gpu.py --tool BIN/attn-import-onnx [--threads N] DIR [DIR ...]

Every NAME.onnx in DIR with NAME.in<i>.npy inputs and NAME.out<i>.npy
references (test/onnx/export_seeds.py, make_handbuilt.py) is run by

  - ort-cpu:   ONNX Runtime, CPUExecutionProvider, N intra-op threads;
  - ort-cuda:  ONNX Runtime, CUDAExecutionProvider (nodes it lacks fall
    back to the CPU, as ORT places them), when the GPU and the provider
    are there;
  - attn-cpu:  attn-import-onnx --run --bench --threads=N (raised; the
    attention kernels on N threads, the rest of the graph on one);
  - attn-cuda: the same with --target=cuda (the raised attention on attn's
    GPU kernels in f16, the rest of the graph on the CPU, buffers copied
    to the device and back per call). A model whose attention the GPU
    kernels cannot take (head dims below 16) prints the tool's one line.

Prints one line per model and runner: max abs error against the PyTorch /
NumPy reference and the median wall time per call (ms); then a table.
Tolerances (|out - ref| <= atol + rtol |ref|): ort-cpu and attn-cpu
1e-5 + 1e-4 |ref| (f32); ort-cuda 1e-4 + 1e-3 |ref| (TF32 may be on);
attn-cuda 2e-2 + 2e-2 |ref| (f16 attention inside an f32 graph). Without
onnxruntime it prints one line and exits 0 (fails soft); it exits 1 only
when an output is outside its tolerance.
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


TOL = {"ort-cpu": (1e-5, 1e-4), "ort-cuda": (1e-4, 1e-3),
       "attn-cpu": (1e-5, 1e-4), "attn-cuda": (2e-2, 2e-2)}


def run_ort(ort, path, inputs, refs, provider, runs, threads):
    opts = ort.SessionOptions()
    if provider == "CPUExecutionProvider":
        opts.intra_op_num_threads = threads
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
    err, ok = check(outs, refs, *TOL["ort-cuda" if cuda else "ort-cpu"])
    ms = median_ms(lambda: sess.run(names, feed), runs)
    return (ms, err, ok), None


def run_attn(tool, path, ins, refs, runs, threads, cuda):
    args = [tool, path] + ["--input=" + f for f in ins] + ["--expect=" + f for f in refs]
    args += ["--bench", "--runs=%d" % runs, "--threads=%d" % threads]
    label = "attn-cuda" if cuda else "attn-cpu"
    args += ["--atol=%g" % TOL[label][0], "--rtol=%g" % TOL[label][1]]
    if cuda:
        args.append("--target=cuda")
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode not in (0, 1) or "time per call" not in p.stdout:
        return None, (p.stderr.strip() or p.stdout.strip()).splitlines()[-1][:200]
    ms = float(re.search(r"time per call: ([0-9.]+) ms", p.stdout).group(1))
    errs = [float(x) for x in re.findall(r"max abs error ([0-9.e+-]+|nan)", p.stdout)]
    return (ms, max(errs) if errs else float("nan"), p.returncode == 0), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads of ORT's CPU EP and of attn's attention kernels")
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

        def show(label, r, why):
            nonlocal failed
            result[label] = r
            print("%-16s %-10s %s" % (name, label, why if why else
                  "%9.4f ms  max err %.2e  %s" % (r[0], r[1], "ok" if r[2] else "FAIL")))
            failed |= bool(r and not r[2])

        for label, prov in (("ort-cpu", "CPUExecutionProvider"), ("ort-cuda", "CUDAExecutionProvider")):
            if prov not in providers:
                print("%-16s %-10s skipped: no %s" % (name, label, prov))
                continue
            show(label, *run_ort(ort, path, inputs, refs, prov, a.runs, a.threads))
        show("attn-cpu", *run_attn(a.tool, path, ins, refs_f, a.runs, a.threads, False))
        show("attn-cuda", *run_attn(a.tool, path, ins, refs_f, a.runs, a.threads, True))
        rows.append((name, result))
    labels = ("ort-cpu", "ort-cuda", "attn-cpu", "attn-cuda")
    print("onnx: same .onnx files and inputs; CPU runners on %d thread(s); wall ms per call "
          "(max abs error vs the reference; tolerances in bench/onnx_gpu.py)" % a.threads)
    print("%-16s" % "model" + "".join("%22s" % l for l in labels))
    for name, res in rows:
        cells = []
        for l in labels:
            r = res.get(l)
            cells.append("%22s" % ("%.4f (%.1e)%s" % (r[0], r[1], "" if r[2] else "!") if r else "-"))
        print("%-16s" % name + "".join(cells))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
