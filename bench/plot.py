#!/usr/bin/env python3
"""PNG charts of the benchmarks' JSON lines (bench/benchschema.py).

usage: python3 bench/plot.py [--out-dir DIR] [--tag NAME] [--title TEXT]
                             [--note TEXT] FILE.jsonl...

Writes, for one machine (all FILEs are measurements of the same machine):

  DIR/compare-NAME.png   attn vs each peer per case: grouped bars (TFLOP/s
                         or GFLOP/s for prefill, TB/s or GB/s for decode),
                         the ratio attn / peer printed over each peer's bar
                         (above 1: attn is faster);
  DIR/roofline-NAME.png  the machine's measured ceilings (peak FLOP/s as
                         horizontal lines, memory bandwidths as diagonals)
                         and each kernel's achieved FLOP/s against its
                         arithmetic intensity (FLOPs / bytes of the case).

and prints the ratios as a table on stdout. FLOPs and bytes come from
benchschema.work(shape) for every record that has a shape (one definition
for the CPU and GPU benches and the peers); a benchmark's own "flops" that
disagrees is reported on stderr. Matplotlib with the Agg backend (Debian's
python3-matplotlib here, the GPU machine's venv there).
"""
import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchschema  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ATTN = "attn"
KINDS = ("prefill", "decode")
# prefill is compared by FLOP/s, decode (memory-bound) by bytes/s.
METRIC = {"prefill": "flops", "decode": "bytes"}
_warned = set()  # (impl, case) whose own flops disagree, reported once


def measurements(records):
    """[(impl, case, kind, flops, bytes, seconds)] of the timed kernels, with
    FLOPs and bytes from the case's shape where it has one; warns on stderr
    when a benchmark's own "flops" disagrees."""
    out = []
    for r in records:
        if "error" in r or r.get("kind") not in KINDS or not r.get("ms"):
            continue
        flops, nbytes = r.get("flops"), r.get("bytes")
        if isinstance(r.get("shape"), dict):
            flops, nbytes = benchschema.work(r["shape"])
            own = r.get("flops")
            if isinstance(own, (int, float)) and \
                    abs(own - flops) > 1e-6 * max(flops, 1.0) and \
                    (r["impl"], r["case"]) not in _warned:
                _warned.add((r["impl"], r["case"]))
                print(f"plot: {r['impl']} {r['case']}: the benchmark counts "
                      f"{own:.6g} flops, the shape gives {flops:.6g}",
                      file=sys.stderr)
        if not flops or not nbytes:
            continue
        out.append((r["impl"], r["case"], r["kind"], float(flops),
                    float(nbytes), r["ms"] / 1e3))
    return out


def case_values(records):
    """{kind: {case: {impl: rate}}}: each kernel's rate in its kind's metric
    (FLOP/s or bytes/s), plus the per-case neighbour ceilings (read-stream,
    memcpy) as bytes/s, in the order the records came."""
    table = {k: {} for k in KINDS}
    kind_of = {}
    for impl, case, kind, flops, nbytes, sec in measurements(records):
        work = flops if METRIC[kind] == "flops" else nbytes
        table[kind].setdefault(case, {})[impl] = work / sec
        kind_of[case] = kind
    for r in records:  # neighbours: same case name, a rate but no time
        case, impl = r.get("case"), r.get("impl")
        if "error" in r or case not in kind_of or r.get("ms"):
            continue
        value = benchschema.rate(r, METRIC[kind_of[case]])
        if value:
            table[kind_of[case]][case].setdefault(impl, value)
    return table


def ratios(records):
    """{(case, impl): attn / impl} for every case attn ran in."""
    out = {}
    for cases in case_values(records).values():
        for case, vals in cases.items():
            if ATTN not in vals:
                continue
            for impl, v in vals.items():
                if impl != ATTN and v > 0:
                    out[(case, impl)] = vals[ATTN] / v
    return out


def ceilings(records):
    """([(label, FLOP/s)], [(label, bytes/s)]) of the machine ceilings."""
    compute, memory = [], []
    for r in records:
        case = str(r.get("case", ""))
        if "error" in r or not case.startswith("ceiling_"):
            continue
        impl = r.get("impl", "")
        label = r.get("label") or case[len("ceiling_"):].replace("_", " ")
        if impl not in ("ceiling", ""):
            label += f" ({impl})"
        f, b = benchschema.rate(r, "flops"), benchschema.rate(r, "bytes")
        if f:
            compute.append((label, f))
        if b:
            memory.append((label, b))
    return compute, memory


def device_name(records):
    names = []
    for r in records:
        if r.get("case") == "device" and r.get("device") and \
                r["device"] not in names:
            names.append(r["device"])
    return "; ".join(names)


def _unit(values, base):
    """(scale, prefix) so that the largest value reads in the 1-1000s."""
    top = max(values) if values else 1.0
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if top >= scale:
            return scale, prefix + base
    return 1.0, base


def _label(case, kind):
    text = case[len(kind) + 1:] if case.startswith(kind + "_") else case
    return "\n".join(textwrap.wrap(text.replace("_", " "), 18)) or case


def compare_chart(records, path, title=""):
    """Writes the grouped bar chart; returns the ratio labels drawn, as
    [(case, impl, text)]."""
    table = case_values(records)
    kinds = [k for k in KINDS if table[k]]
    if not kinds:
        raise ValueError("no timed prefill or decode cases in the input")
    impls = []
    for k in kinds:
        for vals in table[k].values():
            impls += [i for i in vals if i not in impls]
    impls.sort(key=lambda i: (i != ATTN, not i.startswith(ATTN)))
    colors = {i: f"C{n % 10}" for n, i in enumerate(impls)}
    width_ratios = [max(1, len(table[k])) for k in kinds]
    fig, axes = plt.subplots(1, len(kinds), squeeze=False,
                             figsize=(3 + 2.3 * sum(width_ratios), 4.8),
                             gridspec_kw={"width_ratios": width_ratios})
    drawn = []
    for ax, kind in zip(axes[0], kinds):
        cases = table[kind]
        scale, unit = _unit([v for c in cases.values() for v in c.values()],
                            "FLOP/s" if METRIC[kind] == "flops" else "B/s")
        for x, (case, vals) in enumerate(cases.items()):
            present = [i for i in impls if i in vals]
            w = 0.8 / len(present)
            for n, impl in enumerate(present):
                pos = x - 0.4 + w * (n + 0.5)
                height = vals[impl] / scale
                ax.bar(pos, height, w, color=colors[impl],
                       label=impl if impl not in ax.get_legend_handles_labels()[1] else None)
                if impl != ATTN and ATTN in vals and vals[impl] > 0:
                    text = f"{vals[ATTN] / vals[impl]:.2f}×"
                    ax.text(pos, height, text, ha="center", va="bottom",
                            fontsize=7, rotation=90 if len(present) > 4 else 0)
                    drawn.append((case, impl, text))
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels([_label(c, kind) for c in cases], fontsize=7)
        ax.set_ylabel(unit)
        ax.set_title(f"{kind} ({unit}; label: attn / that bar)", fontsize=9)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[lab] for lab in labels], labels, loc="upper right",
               fontsize=8, ncol=min(len(labels), 6))
    fig.suptitle(title or device_name(records), fontsize=10, x=0.01,
                 ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return drawn


def roofline_chart(records, path, title=""):
    """Writes the roofline; returns [(impl, case, intensity, FLOP/s)]."""
    points = [(impl, case, flops / nbytes, flops / sec)
              for impl, case, _, flops, nbytes, sec in measurements(records)]
    compute, memory = ceilings(records)
    if not points:
        raise ValueError("no timed cases in the input")
    xs = [p[2] for p in points]
    lo, hi = min(xs) / 4, max(xs) * 4
    ys = [p[3] for p in points] + [c for _, c in compute]
    scale, unit = _unit(ys, "FLOP/s")
    fig, ax = plt.subplots(figsize=(8, 5.5))
    grid = [lo * (hi / lo) ** (n / 200) for n in range(201)]
    top = max(c for _, c in compute) if compute else None
    for n, (label, bw) in enumerate(memory):
        line = [bw * x for x in grid]
        if top:
            line = [min(y, top) for y in line]
        bscale, bunit = _unit([bw], "B/s")
        ax.plot(grid, [y / scale for y in line], ls="--", color=f"C{n}",
                lw=1, label=f"{label}: {bw / bscale:.4g} {bunit}")
    for n, (label, peak) in enumerate(compute):
        ax.axhline(peak / scale, ls="-", lw=1, color=f"C{n + len(memory)}",
                   label=f"{label}: {peak / scale:.4g} {unit}")
    impls = []
    for p in points:
        if p[0] not in impls:
            impls.append(p[0])
    cases = []
    for p in points:
        if p[0] == ATTN and p[1] not in cases:
            cases.append(p[1])
    markers = "os^Dv<>pP*X"
    for n, impl in enumerate(impls):
        mine = [p for p in points if p[0] == impl]
        ax.scatter([p[2] for p in mine], [p[3] / scale for p in mine],
                   marker=markers[n % len(markers)], s=36, zorder=3,
                   color="black" if impl == ATTN else f"C{(n + 5) % 10}",
                   label=impl)
        if impl == ATTN:  # numbers, explained in the box: names overlap
            for p in mine:
                ax.annotate(str(cases.index(p[1]) + 1), (p[2], p[3] / scale),
                            fontsize=7, xytext=(5, -3),
                            textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(top=max(ys) * 4 / scale)  # room for the box of case names
    ax.set_xlabel("arithmetic intensity (FLOPs / byte of q, k, v, out)")
    ax.set_ylabel(f"achieved {unit}")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower right")
    if cases:
        ax.text(0.01, 0.99, "\n".join(
            f"{n}: {c.replace('_', ' ')}" for n, c in enumerate(cases, 1)),
            transform=ax.transAxes, fontsize=6, va="top", ha="left",
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    ax.set_title("\n".join(textwrap.wrap(
        f"roofline: {title or device_name(records)}", 95)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return points


def print_ratios(records, out=sys.stdout):
    table = case_values(records)
    for kind in KINDS:
        for case, vals in table[kind].items():
            if ATTN not in vals:
                continue
            unit = "FLOP/s" if METRIC[kind] == "flops" else "B/s"
            scale, prefix = _unit(list(vals.values()), unit)
            parts = [f"attn {vals[ATTN] / scale:.4g} {prefix}"]
            parts += [f"/{i} {vals[ATTN] / v:.2f}" for i, v in vals.items()
                      if i != ATTN and v > 0]
            print(f"{case}: " + ", ".join(parts), file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="JSON-lines files")
    ap.add_argument("--out-dir", default=".")
    ap.add_argument("--tag", default="cpu",
                    help="machine name in the file names (cpu, h200, ...)")
    ap.add_argument("--title", default="", help="default: the device lines")
    ap.add_argument("--note", default="",
                    help="appended to the title (date, load, options)")
    args = ap.parse_args(argv)
    records = [r for p in args.files for r in benchschema.load(p)]
    title = args.title or device_name(records)
    if args.note:
        title += f" ({args.note})"
    for r in records:
        if "error" in r:
            print(f"plot: skipped {r.get('impl')} {r.get('case')}: "
                  f"{str(r['error'])[:200]}", file=sys.stderr)
    os.makedirs(args.out_dir, exist_ok=True)
    paths = [os.path.join(args.out_dir, f"{name}-{args.tag}.png")
             for name in ("compare", "roofline")]
    try:
        compare_chart(records, paths[0], title)
        roofline_chart(records, paths[1], title)
    except ValueError as e:
        print(f"plot: {e} ({', '.join(args.files)})", file=sys.stderr)
        return 1
    print_ratios(records)
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
