#!/usr/bin/env python3
"""Dumps everything the GPU lowering produces into one folder, so that a
change meant to keep the generated code can be checked with one diff:

    scripts/ptx-snapshot.sh /tmp/before   # on the old tree
    scripts/ptx-snapshot.sh /tmp/after    # on the new tree
    diff -r /tmp/before /tmp/after

What it dumps (ATTN_BUILD's attn-opt, attn-run, attn-gpu-tests):
  lit/     the output of every attn-opt RUN line of the GPU lit tests
           (test/passes and test/tools files naming attn-gpu-flash or
           attn-to-nvvm), as run, plus the bare pass output (the same
           options without --canonicalize); from every gpu.binary, its PTX
  probe/   the PTX of every case of scripts/gpu-probe/cases.json (default
           chip and sm_90a)
  run/     the PTX attn-run --target=cuda --static-sizes builds through
           the runtime (run-dyn/: without --static-sizes, run-time sizes)
  unit/    the PTX of the hand-written kernels of test/unit/GpuTestKernels.h
  ptxas/   for every PTX file: ptxas -v (registers, spills) and the
           sha256 of the cubin (same cubin: same SASS)
"""
import hashlib, os, re, shlex, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import importlib.util

_spec = importlib.util.spec_from_file_location(
    "extract_ptx", os.path.join(ROOT, "scripts", "extract-ptx.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)

# attn-run shapes (shorthand specs) whose kernels the runtime builds.
RUN_SPECS = [
    "gqa:b=1,hq=8,hkv=2,s=100,d=128,dtype=bf16,causal",
    "gqa:b=2,hq=32,hkv=8,sq=1,skv=3000,d=128,dtype=bf16,ragged",
    "mha:b=1,h=4,s=300,d=64,dtype=f16",
]


def all_ptx(text):
    """The PTX of every gpu.binary in `text` (split-input-file output holds
    several)."""
    out = []
    pos = 0
    while True:
        i = text.find("gpu.binary @attn_gpu", pos)
        if i < 0:
            return out
        j = text.find("gpu.binary @attn_gpu", i + 1)
        chunk = text[i:j if j >= 0 else len(text)]
        if 'assembly = "' in chunk:
            out.append(_mod.extract_ptx(chunk))
        pos = i + 1


def run(cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                       shell=isinstance(cmd, str))
    return r.returncode, r.stdout, r.stderr


def scrub(text):
    """Drops what changes from run to run (compile times)."""
    return re.sub(r"(\w+TimeInMs) = \d+", r"\1 = <t>", text)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def lit_runs(path, attn_opt, toolkit):
    """(name, command) for each attn-opt invocation of the RUN lines."""
    lines = open(path).read().splitlines()
    runs = []
    for n, line in enumerate(lines):
        m = re.match(r"\s*// RUN: (.*)", line)
        if not m or "attn-opt" not in m.group(1):
            continue
        cmd = m.group(1)
        cmd = cmd[cmd.index("attn-opt"):]
        # The attn-opt command ends at the first pipe or redirection.
        cmd = re.split(r"\s(?:\||2>&1|-o |>)", cmd)[0]
        cmd = cmd.replace("%s", path).replace("%cuda_toolkit", toolkit)
        cmd = cmd.replace("attn-opt", attn_opt, 1)
        runs.append((f"run{n + 1}", cmd))
        if "--canonicalize" in cmd:
            runs.append((f"run{n + 1}.bare", cmd.replace(" --canonicalize", "")))
    return runs


def main():
    out = os.path.abspath(sys.argv[1])
    build = os.environ.get("ATTN_BUILD", os.path.join(ROOT, "build"))
    toolkit = os.environ.get("ATTN_CUDA_TOOLKIT", "/usr/local/cuda")
    attn_opt = os.path.join(build, "bin", "attn-opt")
    attn_run = os.path.join(build, "bin", "attn-run")
    gpu_tests = os.path.join(build, "test", "unit", "attn-gpu-tests")
    for tool in (attn_opt, attn_run):
        if not os.path.exists(tool):
            sys.exit(f"ptx-snapshot: {tool} is missing; build it first")
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"ptx-snapshot: {out} is not empty")
    ptx_files = []

    # Lit tests.
    for sub in ("test/passes", "test/tools"):
        for name in sorted(os.listdir(os.path.join(ROOT, sub))):
            path = os.path.join(ROOT, sub, name)
            if not name.endswith(".mlir") or not os.path.isfile(path):
                continue
            text = open(path).read()
            if not re.search(
                    r"attn-gpu-flash|attn-to-nvvm", text):
                continue
            for tag, cmd in lit_runs(path, attn_opt, toolkit):
                rc, so, se = run(cmd)
                base = os.path.join(out, "lit", name[:-5] + "." + tag)
                write(base + ".mlir", f"// rc={rc}\n" + scrub(so))
                write(base + ".stderr", se.replace(ROOT, "<src>"))
                for i, ptx in enumerate(all_ptx(so)):
                    write(f"{base}.{i}.ptx", ptx)
                    ptx_files.append(f"{base}.{i}.ptx")

    # gpu-probe cases.
    cases = os.path.join(ROOT, "scripts", "gpu-probe", "cases.json")
    gen = os.path.join(ROOT, "scripts", "gpu-probe", "gen.py")
    for tag, extra in (("default", []), ("sm_90a", ["--chip=sm_90a"])):
        d = os.path.join(out, "probe", tag)
        rc, so, se = run([sys.executable, gen, attn_opt, d, cases] + extra)
        write(os.path.join(d, "gen.log"), f"rc={rc}\n{so}{se}")
        for f in sorted(os.listdir(d)):
            if f.endswith(".ptx"):
                ptx_files.append(os.path.join(d, f))

    # attn-run's runtime path: the kernels specialised to the spec's sizes
    # (run/; --static-sizes, which attn-run accepted for every target
    # before CUDA took run-time sizes) and the default ones (run-dyn/).
    for sub, extra in (("run", ["--static-sizes"]), ("run-dyn", [])):
        for i, spec in enumerate(RUN_SPECS):
            f = os.path.join(out, sub, f"spec{i}.ptx")
            os.makedirs(os.path.dirname(f), exist_ok=True)
            rc, so, se = run([attn_run, spec, "--target=cuda",
                              f"--dump-binary={f}"] + extra)
            write(os.path.join(out, sub, f"spec{i}.log"),
                  f"{spec}\n" + re.sub(r"compile: .*? ms \(.*?\)",
                                       "compile: <time>", so + se))
            if os.path.exists(f):
                ptx_files.append(f)

    # The hand-written kernels of GpuTestKernels.h.
    if os.path.exists(gpu_tests):
        d = os.path.join(out, "unit")
        os.makedirs(d, exist_ok=True)
        env = dict(os.environ, ATTN_PTX_SNAPSHOT=d)
        r = subprocess.run([gpu_tests, "--gtest_filter=GpuTestKernels.*:GpuCompile.HandWrittenModuleGivesPtxAndPlan:GpuTensorMap.ThroughTheNvvmPipeline"],
                           env=env, capture_output=True, text=True)
        write(os.path.join(d, "gtest.rc"), f"{r.returncode}\n")
        for f in sorted(os.listdir(d)):
            if f.endswith(".ptx"):
                ptx_files.append(os.path.join(d, f))

    # ptxas: registers, spills, cubin hash.
    ptxas = os.path.join(toolkit, "bin", "ptxas")
    if os.path.exists(ptxas):
        for f in ptx_files:
            text = open(f).read()
            m = re.search(r"^\.target (sm_\w+)", text, re.M)
            arch = m.group(1) if m else "sm_90"
            cubin = f + ".cubin"
            rc, so, se = run([ptxas, f"-arch={arch}", "-v", f, "-o", cubin])
            digest = ""
            if os.path.exists(cubin):
                digest = hashlib.sha256(open(cubin, "rb").read()).hexdigest()
                os.remove(cubin)
            rel = os.path.relpath(f, out)
            write(os.path.join(out, "ptxas", rel + ".txt"),
                  f"rc={rc} arch={arch} cubin sha256 {digest}\n" +
                  re.sub(r"ptxas info *: Compile time = .*\n", "", so + se)
                  .replace(os.path.dirname(f), "<dir>"))
    print(f"ptx-snapshot: {len(ptx_files)} PTX files under {out}")


if __name__ == "__main__":
    main()
