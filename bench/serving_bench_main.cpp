//===- serving_bench_main.cpp - attn-bench-serving ------------------------===//
//
// Continuous batching over a paged KV cache; see bench/ServingBench.h.
//
//===----------------------------------------------------------------------===//
#include "bench/ServingBench.h"

int main(int argc, char **argv) {
  return attn::bench::servingBenchMain(argc, argv);
}
