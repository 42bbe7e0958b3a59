//===- gpu_bench_main.cpp - attn-bench-gpu --------------------------------===//
//
// attn's CUDA kernels on the benchmark shapes; see bench/GpuBench.h.
//
//===----------------------------------------------------------------------===//
#include "bench/GpuBench.h"

int main(int argc, char **argv) {
  return attn::bench::gpuBenchMain(argc, argv);
}
