#!/usr/bin/env python3
"""Prints attn's GPU benchmark next to its peers and the ceilings.

usage: python3 bench/gpu_table.py ATTN.jsonl PEERS.jsonl [--markdown]

Reads the JSON lines of attn-bench-gpu (or `attn-gpu-tests --bench`) and
bench/gpu_peers.py (non-JSON lines are ignored) and prints one row per
case: attn's figure (TFLOP/s for prefill, TB/s of q+k+v+out for decode),
each peer's, attn / peer (above 1: attn is faster) and attn / ceiling
(bf16 8192^3 matmul TFLOP/s for prefill, device-to-device copy TB/s for
decode; both measured in the same device call).
"""
import sys

from benchschema import load

PEERS = ["FLASH", "CUDNN", "Flex"]


def main(argv):
    paths = [a for a in argv[1:] if not a.startswith("--")]
    rows = [r for p in paths for r in load(p)]
    by = {}
    errors = []
    for r in rows:
        if "error" in r:
            errors.append(f"{r.get('impl')} {r.get('case')}: {r['error']}")
            continue
        by[(r.get("impl"), r.get("case"))] = r

    def ceiling(case, key):
        r = by.get(("ceiling", case))
        return r.get(key) if r else None

    matmul = ceiling("ceiling_matmul_bf16_8192", "tflops")
    copy = ceiling("ceiling_d2d_copy", "tbps")
    own_copy = by.get(("attn-d2d", "ceiling_d2d_copy"), {}).get("tbps")
    for key in (("attn", "device"), ("torch", "device")):
        if key in by:
            d = by[key]
            print(f"# {key[0]}: {d.get('device')}"
                  + (f", torch {d['torch']}" if "torch" in d else ""))
    fmt = lambda v, p=2: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
    print(f"# ceilings: bf16 8192^3 matmul {fmt(matmul, 0)} TFLOP/s, "
          f"D2D copy {fmt(copy)} TB/s (torch), {fmt(own_copy)} TB/s (attn "
          "driver copy)")

    cases = []
    for r in rows:
        c = r.get("case", "")
        if (c.startswith("prefill") or c.startswith("decode")) and c not in cases:
            cases.append(c)
    # attn's portable mma.sync kernels, timed next to the default (wgmma on
    # an H100) for prefill.
    sync = any(k[0] == "attn-mma.sync" for k in by)
    # The kernels specialised to the case's sizes, next to the default
    # (run-time sizes): dyn/static is the default's speed over theirs.
    static = any(k[0] == "attn-static" for k in by)
    header = ["case", "unit", "attn"] + (["mma.sync"] if sync else []) + \
        (["static", "dyn/static"] if static else []) + \
        PEERS + [f"attn/{p}" for p in PEERS] + ["attn/ceiling"]
    table = []
    for c in cases:
        prefill = c.startswith("prefill")
        key = "tflops" if prefill else "tbps"
        unit = "TFLOP/s" if prefill else "TB/s"
        ceil = matmul if prefill else copy
        a = by.get(("attn", c), {}).get(key)
        vals = [by.get((p, c), {}).get(key) for p in PEERS]
        ratios = [a / v if a and v else None for v in vals]
        row = [c, unit, fmt(a, 1 if prefill else 2)] + \
            ([fmt(by.get(("attn-mma.sync", c), {}).get(key), 1)]
             if sync else []) + \
            (static_cols(by, c, key, a, prefill) if static else []) + \
            [fmt(v, 1 if prefill else 2) for v in vals] + \
            [fmt(x) for x in ratios] + [fmt(a / ceil if a and ceil else None)]
        table.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    if "--markdown" in argv:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(" --- " for _ in header) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in table:
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))
    for e in errors:
        print(f"# error: {e[:300]}")
    return 0


def static_cols(by, case, key, a, prefill):
    s = by.get(("attn-static", case), {}).get(key)
    ratio = f"{a / s:.3f}" if a and s else "-"
    return ["-" if s is None else f"{s:.{1 if prefill else 2}f}", ratio]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
