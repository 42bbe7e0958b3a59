#!/usr/bin/env python3
"""Compile attention shapes with attn-opt's attn-to-nvvm pipeline into PTX and
a launch plan (JSON) that probe.py runs on a GPU through the CUDA driver.

A development probe of the kernels themselves, independent of the C++
runtime: gen.py runs here (no GPU needed), probe.py on the GPU machine.
"""
import importlib.util, json, os, re, subprocess, sys

_spec = importlib.util.spec_from_file_location(
    "extract_ptx", os.path.join(os.path.dirname(__file__), "..", "extract-ptx.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
extract_ptx = _mod.extract_ptx

def cache_type(c, form, B, Hkv, D, et):
    """The memref type of a K or V cache: contiguous [B, Hkv, smax, D] or
    pages [pages, page, Hkv, D] (nhd) / [pages, Hkv, page, D] (hnd)."""
    if form == "contiguous":
        return f"memref<{B}x{Hkv}x{c['smax']}x{D}x{et}>"
    if form == "nhd":
        return f"memref<{c['pages']}x{c['page']}x{Hkv}x{D}x{et}>"
    return f"memref<{c['pages']}x{Hkv}x{c['page']}x{D}x{et}>"

def cache_spec_mlir(c):
    """attn.cache_attention over a contiguous ("cache": "contiguous") or paged
    ("cache": "nhd" / "hnd", "page", "pages", "max_pages") cache."""
    B, Hq, Hkv, Sq, D = c["b"], c["hq"], c["hkv"], c["sq"], c["d"]
    et = c.get("dtype", "bf16")
    form = c["cache"]
    q = f"memref<{B}x{Hq}x{Sq}x{D}x{et}>"
    kv = cache_type(c, form, B, Hkv, D, et)
    args = [f"%q: {q}", f"%kc: {kv}", f"%vc: {kv}", f"%len: memref<{B}xi32>"]
    bt = ""
    if form != "contiguous":
        btt = f"memref<{B}x{c['max_pages']}xi32>"
        args.append(f"%bt: {btt}")
        bt = f" block_table(%bt : {btt})"
    args.append(f"%o: {q}")
    outs = "%o"
    if c.get("lse"):
        lt = f"memref<{B}x{Hq}x{Sq}xf32>"
        args.append(f"%l: {lt}")
        outs = f"%o, %l : {lt}"
    attrs = []
    mask = c.get("mask", {})
    if mask:
        attrs.append("mask = #attn.mask<" + ", ".join(f"{k} = {v}" for k, v in mask.items()) + ">")
    if form == "hnd":
        attrs.append("page_layout = #attn.page_layout<hnd>")
    if "softcap" in c:
        attrs.append(f"softcap = {float(c['softcap'])} : f32")
    attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
    return ("func.func @attention(" + ", ".join(args) + ") {\n"
            f"  attn.cache_attention %q, %kc, %vc lengths(%len){bt} outs({outs}){attr} : {q}, {kv}, {kv}, memref<{B}xi32> -> {q}\n"
            "  return\n}\n")

def append_spec_mlir(c):
    """attn.cache_append of Snew rows (dtype "in_dtype") into a cache."""
    B, Hkv, Sn, D = c["b"], c["hkv"], c["snew"], c["d"]
    et, it = c.get("dtype", "bf16"), c.get("in_dtype", c.get("dtype", "bf16"))
    form = c["append"]
    new = f"memref<{B}x{Hkv}x{Sn}x{D}x{it}>"
    kv = cache_type(c, form, B, Hkv, D, et)
    args = [f"%k: {new}", f"%v: {new}", f"%kc: {kv}", f"%vc: {kv}", f"%len: memref<{B}xi32>"]
    extra = ""
    if c.get("ragged_new"):
        args.append(f"%nl: memref<{B}xi32>")
        extra += f" new_lengths(%nl : memref<{B}xi32>)"
    if form != "contiguous":
        btt = f"memref<{B}x{c['max_pages']}xi32>"
        args.append(f"%bt: {btt}")
        extra += f" block_table(%bt : {btt})"
    attr = " {page_layout = #attn.page_layout<hnd>}" if form == "hnd" else ""
    return ("func.func @attention(" + ", ".join(args) + ") {\n"
            f"  attn.cache_append %k, %v into %kc, %vc lengths(%len){extra}{attr} : {new}, {new} into {kv}, {kv}, memref<{B}xi32>\n"
            "  return\n}\n")

def spec_mlir(c):
    if "append" in c:
        return append_spec_mlir(c)
    if "cache" in c:
        return cache_spec_mlir(c)
    B, Hq, Hkv, Sq, Skv, D = c["b"], c["hq"], c["hkv"], c["sq"], c["skv"], c["d"]
    et = c.get("dtype", "bf16")
    bshd = c.get("layout") == "bshd"
    def shp(h, s):
        return f"{B}x{s}x{h}x{D}" if bshd else f"{B}x{h}x{s}x{D}"
    dyn = "strided<[?, ?, ?, 1], offset: ?>"
    qt, kt, ot = shp(Hq, Sq), shp(Hkv, Skv), shp(Hq, Sq)
    args = [f"%q: memref<{qt}x{et}, {dyn}>", f"%k: memref<{kt}x{et}, {dyn}>",
            f"%v: memref<{kt}x{et}, {dyn}>"]
    body = [f"  %qt = bufferization.to_tensor %q restrict : memref<{qt}x{et}, {dyn}> to tensor<{qt}x{et}>",
            f"  %kt = bufferization.to_tensor %k restrict : memref<{kt}x{et}, {dyn}> to tensor<{kt}x{et}>",
            f"  %vt = bufferization.to_tensor %v restrict : memref<{kt}x{et}, {dyn}> to tensor<{kt}x{et}>"]
    operands = "%qt, %kt, %vt"
    types = f"tensor<{qt}x{et}>, tensor<{kt}x{et}>, tensor<{kt}x{et}>"
    if "bias" in c:  # broadcastable [B, Hq, Sq, Skv] shape, f32
        bs = "x".join(str(x) for x in c["bias"]) + "xf32"
        args.append(f"%bias: memref<{bs}, strided<[?, ?, ?, ?], offset: ?>>")
        body.append(f"  %bt = bufferization.to_tensor %bias restrict : memref<{bs}, strided<[?, ?, ?, ?], offset: ?>> to tensor<{bs}>")
        operands += f" bias(%bt : tensor<{bs}>)"
    if c.get("ragged"):
        args.append(f"%len: memref<{B}xi32, strided<[?], offset: ?>>")
        body.append(f"  %lt = bufferization.to_tensor %len restrict : memref<{B}xi32, strided<[?], offset: ?>> to tensor<{B}xi32>")
        operands += f" kv_lengths(%lt : tensor<{B}xi32>)"
    args.append(f"%o: memref<{ot}x{et}, {dyn}>")
    lt = f"{B}x{Hq}x{Sq}xf32"
    if c.get("lse"):
        args.append(f"%l: memref<{lt}, strided<[?, ?, ?], offset: ?>>")
    attrs = []
    mask = c.get("mask", {})
    if mask:
        attrs.append("mask = #attn.mask<" + ", ".join(f"{k} = {v}" for k, v in mask.items()) + ">")
    if bshd:
        attrs.append("layout = #attn.layout<bshd>")
    if "softcap" in c:
        attrs.append(f"softcap = {float(c['softcap'])} : f32")
    attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
    types_str = types
    if c.get("lse"):
        body.append(f"  %r, %rl = attn.attention {operands}{attr} : {types_str} -> tensor<{ot}x{et}>, tensor<{lt}>")
        body.append(f"  bufferization.materialize_in_destination %rl in restrict writable %l : (tensor<{lt}>, memref<{lt}, strided<[?, ?, ?], offset: ?>>) -> ()")
    else:
        body.append(f"  %r = attn.attention {operands}{attr} : {types_str} -> tensor<{ot}x{et}>")
    body.append(f"  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<{ot}x{et}>, memref<{ot}x{et}, {dyn}>) -> ()")
    return "func.func @attention(" + ", ".join(args) + ") {\n" + "\n".join(body) + "\n  return\n}\n"

def launch_plan(text):
    consts = dict(re.findall(r"(%[\w]+) = arith\.constant (-?\d+) : (?:index|i32)", text))
    args = {}
    sig = re.search(r"func\.func @attention\((.*?)\) \{", text).group(1)
    for n, m in enumerate(re.finditer(r"(%arg\d+):", sig)):
        args[m.group(1)] = ("arg", n)
    for m in re.finditer(r"(%[\w]+) = memref\.cast (%arg\d+)", text):
        args[m.group(1)] = args[m.group(2)]
    for m in re.finditer(r"(%[\w]+) = memref\.alloc\(\) : memref<([\dx]+)x(f32|i32)>", text):
        shape = [int(x) for x in m.group(2).split("x")]
        args[m.group(1)] = ("scratch", shape, m.group(1))
    # A CUtensorMap in scratch: memref.alloc() {attn.tensor_map =
    # #attn.tensor_map<source = N, dims = [...], strides = [...], box =
    # [...], swizzle = S>} : memref<16xi64> (AttnAttrs.td).
    for m in re.finditer(r"(%[\w]+) = memref\.alloc\(\) \{[^\n]*?attn\.tensor_map = #attn\.tensor_map<([^<>]*)>[^\n]*? : memref<16xi64>", text):
        body = m.group(2)
        tm = {k: [int(x) for x in v.split(",")] if v.strip() else []
              for k, v in re.findall(r"(\w+) = \[([-\d,\s]*)\]", body)}
        tm.update({k: int(v) for k, v in re.findall(r"(\w+) = (-?\d+)(?=,|$)", body.strip())})
        missing = {"source", "dims", "strides", "box", "swizzle"} - tm.keys()
        if missing:
            raise ValueError(f"attn.tensor_map of {m.group(1)} lacks {sorted(missing)}: {body}")
        args[m.group(1)] = {"tensor_map": {k: tm[k] for k in ("source", "dims", "strides", "box", "swizzle")}}
    plan = []
    for m in re.finditer(r"gpu\.launch_func\s+@attn_gpu::@(\w+) blocks in \((.*?)\) threads in \((.*?)\)\s*(?:dynamic_shared_memory_size (%\w+))?\s*args\((.*?)\)\n", text):
        name, grid, block, smem, operands = m.groups()
        ops = [o.split(":")[0].strip() for o in operands.split(", %")]
        ops = [o if o.startswith("%") else "%" + o for o in ops]
        plan.append({"kernel": name,
                     "grid": [int(consts[x.strip()]) for x in grid.split(",")],
                     "block": [int(consts[x.strip()]) for x in block.split(",")],
                     "smem": int(consts[smem]) if smem else 0,
                     "args": [args[o] for o in ops]})
    return plan

def main():
    attn_opt, out_dir, cases_file = sys.argv[1], sys.argv[2], sys.argv[3]
    # --chip=sm_90a (all cases; a case's own "chip" wins): with the default
    # mma=auto, sm_90a selects the wgmma kernels where the shape allows.
    chip = next((a.split("=", 1)[1] for a in sys.argv[4:] if a.startswith("--chip=")), None)
    cases = json.load(open(cases_file))
    os.makedirs(out_dir, exist_ok=True)
    index = []
    for c in cases:
        src = spec_mlir(c)
        opts = "format=isa"
        for key, opt in (("kv_splits", "kv-splits"), ("tile_kv", "tile-kv"),
                         ("warp_row_tiles", "warp-row-tiles"), ("stages", "stages"),
                         ("mma", "mma"), ("key_warps", "key-warps"), ("tma", "tma")):
            if key in c:
                opts += f" {opt}={c[key]}"
        if c.get("chip", chip):
            opts += f" chip={c.get('chip', chip)}"
        res = subprocess.run([attn_opt, "-", f"--pass-pipeline=builtin.module(attn-to-nvvm{{{opts}}})"],
                             input=src, capture_output=True, text=True)
        if res.returncode != 0:
            print("FAIL", c["name"], res.stderr[:2000])
            sys.exit(1)
        ptx = extract_ptx(res.stdout)
        plan = launch_plan(res.stdout)
        open(os.path.join(out_dir, c["name"] + ".ptx"), "w").write(ptx)
        c = dict(c, plan=plan, ptx=c["name"] + ".ptx")
        index.append(c)
        print(c["name"], [(p["kernel"], p["grid"], p["smem"]) for p in plan])
    json.dump(index, open(os.path.join(out_dir, "cases.json"), "w"), indent=1)

if __name__ == "__main__":
    main()
