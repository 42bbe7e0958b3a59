//===- BlockSparseLists.h - block-mask lists of a density ------*- C++ -*-===//
//
// The block-sparse benchmarks' lists (CPU: block_sparse_bench.cpp, GPU:
// GpuBench.cpp --block-sparse): every query block lists exactly
// round(density * kvBlocks) random KV blocks (at least one unless density
// is 0), ascending, padded with -1 to kvBlocks entries.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_BENCH_BLOCKSPARSELISTS_H
#define ATTN_BENCH_BLOCKSPARSELISTS_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace attn::bench {

inline void makeBlockLists(int64_t qBlocks, int64_t kvBlocks, double density,
                           std::vector<int32_t> &counts,
                           std::vector<int32_t> &indices) {
  std::mt19937 rng(42);
  int64_t n = std::clamp<int64_t>(std::llround(density * kvBlocks),
                                  density > 0 ? 1 : 0, kvBlocks);
  counts.assign(qBlocks, static_cast<int32_t>(n));
  indices.clear();
  for (int64_t q = 0; q < qBlocks; ++q) {
    std::vector<int32_t> all(kvBlocks);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(n);
    std::sort(all.begin(), all.end());
    all.resize(kvBlocks, -1);
    indices.insert(indices.end(), all.begin(), all.end());
  }
}

} // namespace attn::bench

#endif
