//===- ServingBench.h - continuous batching over a paged cache --*- C++ -*-===//
//
// The serving benchmark as a library so that one static binary carries it
// to the GPU machine (attn-gpu-tests --serving) as well as its own tool
// (attn-bench-serving). Its options are parsed by hand, not by llvm::cl,
// so that it links next to other benchmarks' options.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_BENCH_SERVINGBENCH_H
#define ATTN_BENCH_SERVINGBENCH_H

namespace attn::bench {

/// Runs the serving loop; argv[0] is the program name. Returns the exit
/// status (2 for a bad argument).
int servingBenchMain(int argc, char **argv);

} // namespace attn::bench

#endif
