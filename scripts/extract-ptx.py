#!/usr/bin/env python3
"""Prints the PTX held by `gpu.binary @attn_gpu` in MLIR read from stdin
(what `attn-opt --pass-pipeline='builtin.module(attn-to-nvvm)'` prints), so
that ptxas can report registers and spills (lit tests, gpu-probe)."""
import re, sys

def extract_ptx(text):
    i = text.index("gpu.binary @attn_gpu")
    start = text.index('assembly = "', i) + len('assembly = "')
    end = start
    while text[end] != '"':
        end += 2 if text[end] == "\\" else 1
    raw = text[start:end]
    return re.sub(r'\\([0-9A-Fa-f]{2})', lambda m: chr(int(m.group(1), 16)),
                  raw).replace("\\\\", "\\")

if __name__ == "__main__":
    sys.stdout.write(extract_ptx(sys.stdin.read()))
