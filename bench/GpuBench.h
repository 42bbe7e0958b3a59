//===- GpuBench.h - attn CUDA kernels on the issue's shapes ----*- C++ -*-===//
//
// `attn-bench-gpu` (and `attn-gpu-tests --bench`, the same code in the one
// statically linked binary carried to the GPU machine): JIT-compiles each
// benchmark shape with Runtime::compile(spec, Target::Cuda), fills device
// buffers with random bf16, times the kernel with CUDA events (median of
// --runs after --warmup) and prints one JSON line per case:
//
//   {"impl": "attn", "case": "prefill_causal", "kind": "prefill",
//    "ms": 1.23, "tflops": 456.7, "tbps": 0.4, "flops": ..., "bytes": ...,
//    "compile_ms": ..., "plan": "..."}
//
// or {"impl": "attn", "case": ..., "error": "..."}; plus an "attn-d2d"
// line with the device-to-device copy bandwidth measured the same way.
// TFLOP/s use AttentionSpec::flops(); TB/s count q + k + v + out bytes.
// bench/gpu_peers.py measures the peers on the same case names and
// bench/gpu_table.py prints the comparison.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_BENCH_GPUBENCH_H
#define ATTN_BENCH_GPUBENCH_H

namespace attn::bench {

/// Runs the benchmark with command-line arguments (argv[0] is ignored);
/// returns the process exit code.
int gpuBenchMain(int argc, char **argv);

} // namespace attn::bench

#endif
