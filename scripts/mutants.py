#!/usr/bin/env python3
"""Structured mutant campaign: mutates the seeds (every example and lit-test
piece, see fuzz-seeds.py) where attn inputs are fragile -- sizes, mask and
scale parameters, attribute values, region bodies, operand types -- and runs
each mutant through attn-opt in three modes (verify + round-trip,
--canonicalize, --attn-to-cpu; and attn-to-nvvm for f16/bf16 mutants).
A located `error:` or success is fine; a signal, a sanitizer report, a
timeout (--timeout seconds of CPU time, default 60, or 20 times that of
wall time) or an error without a location is a finding, saved with its
command line.

With --run ATTN_RUN, a sample (--run-fraction) of the mutants that verify
and lower to the CPU, hold an attn.attention and are small (every tensor at
most --run-elements elements, default 2^16) is also JIT-compiled and run with
`attn-run FILE --check`: there a failed check (a wrong result) is a
finding too, as are a signal, a fatal error and a timeout; a refusal
(exit 2) or a compile error (exit 1 without a check line) is fine.

    mutants.py ATTN_OPT COUNT [--seed N] [--out DIR] [--timeout S]
               [--run ATTN_RUN] [--run-fraction F] [--run-elements N]
               [--run-timeout S]
"""
import argparse
import hashlib
import os
import pathlib
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location("fuzz_seeds", ROOT / "scripts" / "fuzz-seeds.py")
fuzz_seeds = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fuzz_seeds)

INTERESTING = [0, 1, 2, 3, 7, 15, 16, 17, 31, 63, 64, 65, 127, 128, 255, 256,
               257, 1023, 1024, 1025, 4096, 65535, 65536, 2147483647,
               2147483648, 4294967296, 9223372036854775807, -1, -2,
               -9223372036854775808]
FLOATS = ["0.0", "-0.0", "1.0e-45", "3.4028235e38", "-3.4028235e38",
          "0x7FC00000", "0x7F800000", "0xFF800000", "1.0e30", "65504.0",
          "-1.0", "0.125"]
ATTRS = ["causal = true", "q_offset = {}", "window_left = {}",
         "window_right = {}", "dilation = {}", "global_tokens = {}"]
REGION_OPS = [
    "%m = arith.constant true\n      attn.yield %m : i1",
    "attn.yield %j : index",
    "%m = arith.cmpi ult, %i, %j : index\n      attn.yield %m : i1",
]


def num():
    return random.choice(INTERESTING) if random.random() < 0.7 else random.randint(-5, 5000)


def mutate(text):
    ops = random.randint(1, 3)
    for _ in range(ops):
        kind = random.randrange(9)
        if kind == 0:  # one dim of one shaped type
            shapes = list(re.finditer(r"(tensor|memref)<((?:[0-9?]+x)+)", text))
            if shapes:
                m = random.choice(shapes)
                dims = m.group(2).rstrip("x").split("x")
                i = random.randrange(len(dims))
                dims[i] = str(abs(num())) if random.random() < 0.9 else "?"
                text = text[:m.start(2)] + "x".join(dims) + "x" + text[m.end(2):]
        elif kind == 1:  # the same dim everywhere (keeps shapes consistent)
            sizes = sorted(set(re.findall(r"(?<=[<x])([0-9]+)(?=x)", text)))
            if sizes:
                old = random.choice(sizes)
                new = str(abs(num()))
                text = re.sub(r"(?<=[<x])" + old + r"(?=x)", new, text)
        elif kind == 2:  # an integer inside a mask attribute
            ms = list(re.finditer(r"(q_offset|window_left|window_right|dilation|global_tokens) = (-?[0-9]+)", text))
            if ms:
                m = random.choice(ms)
                text = text[:m.start(2)] + str(num()) + text[m.end(2):]
        elif kind == 3:  # add a mask parameter
            a = random.choice(ATTRS).format(num())
            if "#attn.mask<" in text:
                text = text.replace("#attn.mask<", "#attn.mask<" + a + ", ", 1)
            else:
                text = re.sub(r"(attn\.attention [^\n]*?)( :|\n)", r"\1 {mask = #attn.mask<" + a + ">}\2", text, count=1)
        elif kind == 4:  # scale / softcap values
            fs = list(re.finditer(r"(scale|softcap) = ([-0-9.e+x]+)", text))
            if fs:
                m = random.choice(fs)
                text = text[:m.start(2)] + random.choice(FLOATS) + text[m.end(2):]
            else:
                text = text.replace("attn.attention", "attn.attention", 1)
                text = re.sub(r"#attn.mask<", "#attn.mask<", text)
                text = re.sub(r"(\{mask = )", r"{scale = " + random.choice(FLOATS) + r" : f32, mask = ", text, count=1)
        elif kind == 5:  # element types
            text = re.sub(random.choice(["xf32>", "xbf16>", "xf16>"]),
                          random.choice(["xf32>", "xbf16>", "xf16>", "xi32>", "xf64>"]), text, count=random.randint(1, 4))
        elif kind == 6:  # region bodies
            if "mask_mod" in text:
                text = re.sub(r"(\^bb0\(%b: index, %h: index, %i: index, %j: index\):\n)(.*?)(\n\s*\} )",
                              lambda m: m.group(1) + "      " + random.choice(REGION_OPS) + m.group(3),
                              text, count=1, flags=re.S)
            text = text.replace("layout<bhsd>", random.choice(["layout<bshd>", "layout<bhsd>"]))
        elif kind == 7:  # delete or duplicate a line
            lines = text.splitlines()
            if len(lines) > 2:
                i = random.randrange(len(lines))
                if random.random() < 0.5:
                    del lines[i]
                else:
                    lines.insert(i, lines[i])
                text = "\n".join(lines) + "\n"
        else:  # byte-level noise
            if text:
                i = random.randrange(len(text))
                text = text[:i] + random.choice("0123456789x?<>:,%{}()-") + text[i + 1:]
    return text


MODES = [
    ["--verify-roundtrip"],
    ["--canonicalize"],
    ["--attn-to-cpu"],
    ["--pass-pipeline=builtin.module(attn-to-nvvm)"],
]


def limited(cmd, timeout):
    """Runs `cmd` with `timeout` seconds of CPU time (RLIMIT_CPU: SIGXCPU
    past it) and 20 times that of wall time: on a shared machine at nice 19
    a wall-clock limit alone reports the load, not a hang. Returns the
    CompletedProcess, or None for a timeout of either kind."""
    def cap():
        cpu = max(1, int(timeout))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                           timeout=20 * timeout, preexec_fn=cap)
    except subprocess.TimeoutExpired:
        return None
    return None if p.returncode == -signal.SIGXCPU else p


def run_one(opt, path, mode, timeout):
    p = limited([opt, path, *mode], timeout)
    if p is None:
        return "timeout", "", -1
    err = p.stderr
    if p.returncode < 0 or p.returncode > 1:
        return f"signal/exit {p.returncode}", err[-2000:], p.returncode
    if "runtime error:" in err or "AddressSanitizer" in err or "LLVM ERROR" in err:
        return "sanitizer/fatal", err[-2000:], p.returncode
    if p.returncode == 1 and not re.search(r":\d+:\d+: error:", err):
        return "error without location", err[-2000:], p.returncode
    return "", "", p.returncode


def small_attention(text, most):
    """An attn.attention whose tensors all have static shapes of at most
    `most` elements (attn-run refuses run-time sizes anyway)."""
    if "attn.attention" not in text:
        return False
    for m in re.finditer(r"tensor<((?:[0-9?]+x)+)[a-z0-9]+>", text):
        dims = m.group(1).rstrip("x").split("x")
        if "?" in dims:
            return False
        n = 1
        for d in dims:
            n *= int(d)
        if n > most:
            return False
    return True


def run_attn(attn_run, path, seed, timeout):
    """attn-run --check on one mutant: "" when fine, else the finding."""
    cmd = [attn_run, path, "--check", f"--seed={seed}", "--threads=1"]
    p = limited(cmd, timeout)
    if p is None:
        return "attn-run timeout", ""
    out = p.stdout + p.stderr
    if p.returncode < 0 or p.returncode > 2:
        return f"attn-run signal/exit {p.returncode}", out[-2000:]
    if "runtime error:" in out or "AddressSanitizer" in out or "LLVM ERROR" in out:
        return "attn-run sanitizer/fatal", out[-2000:]
    if p.returncode == 1 and re.search(r"^check: .*: FAIL", out, re.M):
        return "attn-run wrong result", out[-2000:]
    return "", ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("opt")
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--run", default=None, help="attn-run binary")
    ap.add_argument("--run-fraction", type=float, default=0.25)
    ap.add_argument("--run-elements", type=int, default=1 << 16)
    ap.add_argument("--run-timeout", type=float, default=120)
    a = ap.parse_args()
    random.seed(a.seed)
    # Its own stream: --run does not change which mutants a seed gives.
    sampler = random.Random(a.seed + 1)
    out = pathlib.Path(a.out or tempfile.mkdtemp(prefix="attn-mutants."))
    (out / "findings").mkdir(parents=True, exist_ok=True)
    seeds = [body for f in sorted(ROOT.glob("examples/*.mlir")) + sorted(ROOT.glob("test/**/*.mlir"))
             for body in fuzz_seeds.pieces(f)]
    stats = {"mutants": 0, "runs": 0, "ok": 0, "located_error": 0, "findings": 0,
             "attn_runs": 0}
    kinds = {}
    tmp = out / "mutant.mlir"

    def record(kind, text, command, err):
        stats["findings"] += 1
        kinds[kind] = kinds.get(kind, 0) + 1
        h = hashlib.sha1(text.encode()).hexdigest()[:12]
        (out / "findings" / f"{h}.mlir").write_text(text)
        (out / "findings" / f"{h}.txt").write_text(
            f"{kind}\n{command.format(h)}\n\n{err}")
        print(f"finding {h}: {kind} ({command.format(h)})", flush=True)

    def summary():
        print(f"mutants: {stats['mutants']} ({len(seeds)} seeds, rng seed {a.seed}), "
              f"verified: {stats['ok']}, rejected with an error: {stats['located_error']}, "
              f"attn-opt runs: {stats['runs']}, attn-run runs: {stats['attn_runs']}, "
              f"findings: {stats['findings']} {kinds}; "
              f"output in {out}", flush=True)

    def stop(signum, frame):  # a campaign cut short still reports
        print(f"stopped by signal {signum} during mutant {stats['mutants']}")
        summary()
        sys.exit(1 if stats["findings"] else 3)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for n in range(a.count):
        text = mutate(random.choice(seeds))
        tmp.write_text(text)
        stats["mutants"] += 1
        lowered = False
        for i, mode in enumerate(MODES):
            if "nvvm" in mode[0] and "f16" not in text:
                continue
            stats["runs"] += 1
            kind, err, rc = run_one(a.opt, str(tmp), mode, a.timeout)
            if i == 0 and not kind:
                verified = rc == 0
                stats["ok" if verified else "located_error"] += 1
                if not verified:
                    break  # the other modes run the same verifier first
            if kind:
                record(kind, text, f"attn-opt {{}}.mlir {' '.join(mode)}", err)
            if i == 2 and not kind and rc == 0:
                lowered = True
        if (a.run and lowered and small_attention(text, a.run_elements)
                and sampler.random() < a.run_fraction):
            stats["attn_runs"] += 1
            kind, err = run_attn(a.run, str(tmp), n, a.run_timeout)
            if kind:
                record(kind, text, f"attn-run {{}}.mlir --check --seed={n} --threads=1", err)
        if (n + 1) % 100 == 0:
            print(f"{n + 1} mutants, {stats['runs']} runs, {stats['attn_runs']} attn-run runs, "
                  f"{stats['findings']} findings", flush=True)
    summary()
    return 1 if stats["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
