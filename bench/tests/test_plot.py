"""bench/plot.py on small synthetic JSON lines: the FLOPs/bytes of a case,
the ratios attn / peer (on the chart and in the table), and the PNGs."""
import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)
import benchschema  # noqa: E402
import plot  # noqa: E402

PREFILL = benchschema.shape(2, 4, 2, 64, 64, 32, dtype="bf16", causal=True)
DECODE = benchschema.shape(3, 8, 2, 1, 100, 64, dtype="f32", causal=True,
                           q_offset=99)


def gpu_records():
    fl, nb = benchschema.work(PREFILL)
    rows = [{"impl": "attn", "case": "device", "device": "Test GPU"},
            {"impl": "ceiling", "case": "ceiling_matmul_bf16_8192",
             "tflops": 700.0},
            {"impl": "ceiling", "case": "ceiling_d2d_copy", "tbps": 4.2},
            {"impl": "attn-d2d", "case": "ceiling_d2d_copy", "kind": "ceiling",
             "ms": 0.5, "tbps": 4.1}]
    for impl, ms in (("attn", 1.0), ("attn-mma.sync", 1.6), ("FLASH", 1.5),
                     ("CUDNN", 0.8)):
        rows.append({"impl": impl, "case": "prefill_small", "kind": "prefill",
                     "ms": ms, "shape": PREFILL, "flops": fl, "bytes": nb,
                     "tflops": fl / (ms * 1e9)})
    for impl, ms in (("attn", 0.1), ("FLASH", 0.25)):
        rows.append({"impl": impl, "case": "decode_small", "kind": "decode",
                     "ms": ms, "shape": DECODE})
    rows.append({"impl": "Flex", "case": "decode_small", "error": "boom"})
    # an old line without a shape: its own flops and bytes
    rows.append({"impl": "attn", "case": "decode_old", "kind": "decode",
                 "ms": 2.0, "flops": 4e9, "bytes": 8e9})
    rows.append({"impl": "CUDNN", "case": "decode_old", "kind": "decode",
                 "ms": 4.0, "flops": 4e9, "bytes": 8e9})
    return rows


def cpu_decode_records():
    _, nb = benchschema.work(DECODE)
    ms = 2.0
    gbps = nb / (ms * 1e6)
    return [{"impl": "attn", "case": "device", "device": "Test CPU, 2 threads"},
            {"impl": "ceiling", "case": "ceiling_peak_fma", "gflops": 250.0},
            {"impl": "ceiling", "case": "ceiling_read_stream", "gbps": 20.0},
            {"impl": "attn", "case": "decode_nhd_f32_b3_kv100",
             "kind": "decode", "ms": ms, "shape": DECODE, "gbps": gbps},
            {"impl": "read-stream", "case": "decode_nhd_f32_b3_kv100",
             "gbps": gbps / 0.8},
            {"impl": "memcpy", "case": "decode_nhd_f32_b3_kv100",
             "gbps": gbps * 2}]


def test_work_counts_visible_pairs():
    s = benchschema.shape(1, 2, 2, 4, 4, 8, dtype="f32", causal=True)
    # keys 1 + 2 + 3 + 4 per head, 2 (D + Dv) flops each; q, k, v, out f32
    assert benchschema.work(s) == (2.0 * 10 * 16 * 2, 4.0 * (64 + 128 + 64))
    s = benchschema.shape(1, 1, 1, 6, 6, 4, causal=True, window_left=1)
    assert benchschema.work(s)[0] == 2.0 * (1 + 2 * 5) * 8
    decode = benchschema.work(DECODE)
    assert decode[0] == 2.0 * 100 * 128 * 3 * 8
    assert decode[1] == 4.0 * 3 * (8 * 64 + 2 * 100 * 128 + 8 * 64)


def test_ratios():
    r = plot.ratios(gpu_records())
    assert r[("prefill_small", "FLASH")] == pytest.approx(1.5)
    assert r[("prefill_small", "CUDNN")] == pytest.approx(0.8)
    assert r[("prefill_small", "attn-mma.sync")] == pytest.approx(1.6)
    assert r[("decode_small", "FLASH")] == pytest.approx(2.5)
    assert r[("decode_old", "CUDNN")] == pytest.approx(2.0)
    assert ("decode_small", "Flex") not in r  # the error line
    c = plot.ratios(cpu_decode_records())
    assert c[("decode_nhd_f32_b3_kv100", "read-stream")] == pytest.approx(0.8)
    assert c[("decode_nhd_f32_b3_kv100", "memcpy")] == pytest.approx(0.5)


def test_chart_labels_and_roofline(tmp_path):
    drawn = plot.compare_chart(gpu_records(), str(tmp_path / "c.png"))
    assert ("prefill_small", "FLASH", "1.50×") in drawn
    assert ("prefill_small", "CUDNN", "0.80×") in drawn
    assert ("decode_small", "FLASH", "2.50×") in drawn
    points = plot.roofline_chart(gpu_records(), str(tmp_path / "r.png"))
    fl, nb = benchschema.work(PREFILL)
    assert ("attn", "prefill_small", pytest.approx(fl / nb),
            pytest.approx(fl / 1e-3)) in points
    compute, memory = plot.ceilings(gpu_records())
    assert [v for _, v in compute] == [700e12]
    assert sorted(v for _, v in memory) == pytest.approx([4.1e12, 4.2e12])


def test_flops_mismatch_is_reported(capsys):
    rows = gpu_records()
    rows[4] = dict(rows[4], case="prefill_wrong", flops=rows[4]["flops"] * 2)
    plot.measurements(rows)
    assert "the benchmark counts" in capsys.readouterr().err


def test_command_writes_pngs(tmp_path):
    gpu = tmp_path / "attn-bench.jsonl"
    gpu.write_text("\n".join(json.dumps(r) for r in gpu_records()) +
                   "\nnot json\n")
    cpu = tmp_path / "cpu.jsonl"
    cpu.write_text("\n".join(json.dumps(r) for r in cpu_decode_records()))
    for tag, files in (("h200", [gpu]), ("cpu", [cpu])):
        out = subprocess.run(
            [sys.executable, os.path.join(BENCH, "plot.py"), "--out-dir",
             str(tmp_path / "img"), "--tag", tag] + [str(f) for f in files],
            capture_output=True, text=True, check=True).stdout
        for name in ("compare", "roofline"):
            png = tmp_path / "img" / f"{name}-{tag}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.stat().st_size > 10000
            assert f"wrote {png}" in out
    assert "/read-stream 0.80, /memcpy 0.50" in out
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bad = subprocess.run([sys.executable, os.path.join(BENCH, "plot.py"),
                          "--out-dir", str(tmp_path), str(empty)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "no timed" in bad.stderr
