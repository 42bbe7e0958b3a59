"""Writes and checks the safetensors files of attn-convert.test.

Independent of attn's reader: the bytes are laid out the way Python's
safetensors.torch.save_file lays them out (8-byte little-endian header
length, compact JSON, header padded with spaces to 8 bytes, row-major
little-endian data), using only the standard library.

  safetensors_fixture.py make DIR     writes DIR/mha.safetensors and the
                                      malformed variants
  safetensors_fixture.py check IN OUT H G
                                      checks that OUT is IN with every
                                      k_proj/v_proj pooled from H to G heads
"""
import json
import struct
import sys

E, D, HQ, H = 5, 3, 4, 4


def header_bytes(header):
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text.encode()


def write(path, tensors, metadata=None, raw_header=None, tail=b""):
    """tensors: [(name, dtype, shape, data bytes)] in buffer order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    head = raw_header if raw_header is not None else header_bytes(header)
    with open(path, "wb") as f:
        f.write(head + data + tail)


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def layer():
    """A small MHA layer; values are exact in f32 and so are their means
    (multiples of 1/16 with few bits)."""
    def vals(n, base):
        return [((base + 7 * i) % 23 - 11) / 16.0 for i in range(n)]
    return [
        ("model.layers.0.self_attn.q_proj.weight", "F32", [HQ * D, E],
         f32(vals(HQ * D * E, 1))),
        ("model.layers.0.self_attn.k_proj.weight", "F32", [H * D, E],
         f32(vals(H * D * E, 2))),
        ("model.layers.0.self_attn.k_proj.bias", "F32", [H * D],
         f32(vals(H * D, 3))),
        ("model.layers.0.self_attn.v_proj.weight", "F32", [H * D, E],
         f32(vals(H * D * E, 4))),
        ("model.layers.0.self_attn.v_proj.bias", "F32", [H * D],
         f32(vals(H * D, 5))),
        ("model.layers.0.self_attn.o_proj.weight", "F32", [E, HQ * D],
         f32(vals(E * HQ * D, 6))),
        ("model.embed_tokens.weight", "I32", [2, 2],
         struct.pack("<4i", 1, 2, 3, 4)),
    ]


def make(out):
    t = layer()
    write(out + "/mha.safetensors", t, {"format": "pt"})
    good = open(out + "/mha.safetensors", "rb").read()
    with open(out + "/truncated.safetensors", "wb") as f:
        f.write(good[:-3])
    with open(out + "/short.safetensors", "wb") as f:
        f.write(b"\x01\x02")
    write(out + "/badlen.safetensors", t,
          raw_header=struct.pack("<Q", 1 << 40) + b"{}")
    bad_json = b'{"a": {"dtype": "F32",'
    write(out + "/badjson.safetensors", [],
          raw_header=struct.pack("<Q", len(bad_json)) + bad_json)
    big = [("x", "F32", [4], f32([1, 2, 3, 4]))]
    hdr = header_bytes({"x": {"dtype": "F32", "shape": [4],
                              "data_offsets": [0, 64]}})
    write(out + "/range.safetensors", big, raw_header=hdr)
    hdr = header_bytes({"x": {"dtype": "F32", "shape": [2],
                              "data_offsets": [0, 8]},
                        "y": {"dtype": "F32", "shape": [2],
                              "data_offsets": [4, 12]}})
    write(out + "/overlap.safetensors", [("x", "F32", [3], f32([1, 2, 3]))],
          raw_header=hdr)
    hdr = header_bytes({"x": {"dtype": "F16", "shape": [3],
                              "data_offsets": [0, 8]}})
    write(out + "/size.safetensors", big[:1], raw_header=hdr, tail=b"")
    ints = [(n, "I32" if "k_proj.weight" in n else d, s, b)
            for n, d, s, b in t]
    write(out + "/ints.safetensors", ints)


def read(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header not padded to 8 bytes"
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        b, e = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], data[b:e])
    return header.get("__metadata__", {}), tensors


def check(src, dst, h, g):
    _, a = read(src)
    meta, b = read(dst)
    assert meta.get("format") == "pt", meta
    assert meta.get("attn.uptrain") == "heads=%d groups=%d" % (h, g), meta
    assert set(a) == set(b), (set(a), set(b))
    per = h // g
    for name, (dtype, shape, blob) in a.items():
        if "k_proj" not in name and "v_proj" not in name:
            assert b[name] == a[name], name + " changed"
            continue
        vals = struct.unpack("<%df" % (len(blob) // 4), blob)
        cols = shape[1] if len(shape) == 2 else 1
        d = shape[0] // h
        want = []
        for r in range(g * d):
            grp, dd = divmod(r, d)
            for c in range(cols):
                want.append(sum(vals[((grp * per + j) * d + dd) * cols + c]
                                for j in range(per)) / per)
        got_dtype, got_shape, got_blob = b[name]
        assert got_dtype == dtype and got_shape == [g * d] + shape[1:], name
        got = struct.unpack("<%df" % len(want), got_blob)
        assert list(got) == want, name + " not the group means"
    print("checked %d tensors" % len(a))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
