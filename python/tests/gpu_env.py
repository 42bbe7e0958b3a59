#!/usr/bin/env python3
"""What the Python tests will find on this machine, before they run: the
interpreter, torch and its GPU, libattn.so and the GPU attn sees, and
whether torch.ops.attn.attention (the torch.compile path) is registered.
Prints one line each; exits 1 with a "problem:" line (and what to check)
for anything that would make the CUDA or torch.compile tests fail or skip.
scripts/gpu-check.sh runs it first in its python step.

    python3 python/tests/gpu_env.py
"""
import os
import sys


def main():
    problems = []
    print(f"python {sys.version.split()[0]} ({sys.executable})")
    try:
        import torch
    except ImportError as e:
        torch = None
        problems.append(f"import torch failed ({e}): run with the GPU "
                        "machine's PyTorch (its venv's python3 first on PATH)")
    if torch is not None:
        gpu = torch.cuda.is_available()
        name = torch.cuda.get_device_name(0) if gpu else "none"
        print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); "
              f"torch.cuda.is_available() {gpu}; GPU {name}")
        if not gpu:
            problems.append("torch sees no GPU: a CPU-only torch, or no "
                            "device (nvidia-smi)")
    lib = os.environ.get("ATTN_LIBRARY", "(the package's libattn.so)")
    try:
        import attn
        from attn import _capi, _torch_op
    except ImportError as e:
        print(f"attn: cannot import ({e})")
        problems.append(f"libattn.so {lib} did not load: carry the one "
                        "scripts/gpu-bundle.sh builds (self-contained, from "
                        "build-static) and set ATTN_LIBRARY to it")
        attn = None
    if attn is not None:
        ok, why = _capi.cuda_available()
        print(f"attn {attn.__version__}: library {lib}; C API "
              f"{_capi.lib.attn_api_version()}; attn.cuda_available() {ok}"
              + ("" if ok else f" ({why})"))
        if not ok:
            problems.append(f"attn cannot use the GPU: {why}")
        if torch is not None:
            if attn.torch_op is not None:
                print("torch.ops.attn.attention: registered (the "
                      "torch.compile tests run)")
            elif _torch_op.supported(torch):
                problems.append(f"torch.ops.attn.attention: {_torch_op.error}")
            else:
                print(f"torch.ops.attn.attention: not available "
                      f"({_torch_op.error}); its tests skip")
    for p in problems:
        print(f"problem: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
