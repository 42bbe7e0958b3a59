//===- BlockSparseTestUtils.h - block-mask lists for the tests -*- C++ -*-===//
//
// What the CPU and GPU block-sparse tests share: random ascending lists of
// a density, and the check that rows of an empty list are exactly 0 with
// lse -inf.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_TEST_UNIT_BLOCKSPARSETESTUTILS_H
#define ATTN_TEST_UNIT_BLOCKSPARSETESTUTILS_H

#include "dialect/BlockMask.h"
#include "runtime/AttentionArgs.h"
#include "runtime/Check.h"
#include "runtime/KernelSignature.h"
#include "runtime/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

namespace attn_test {

using mlir::attn::AttentionSpec;
using mlir::attn::blockCount;
using mlir::attn::BlockSparseSpec;
using mlir::attn::Layout;
using mlir::attn::rt::AttentionArgs;
using mlir::attn::rt::BufferRef;
using mlir::attn::rt::loadAsDouble;

/// Every row of a query block whose list is empty is exactly 0, lse -inf.
inline void expectEmptyBlocksZero(const AttentionSpec &s,
                                  const AttentionArgs &args,
                                  const std::vector<int32_t> &counts) {
  const BlockSparseSpec &bs = *s.blockSparse;
  auto shape = s.numBlocksShape();
  const BufferRef &out = args.output;
  auto strides = out.effectiveStrides();
  int64_t dv = s.effectiveValueDim();
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.numHeads; ++h)
      for (int64_t q = 0; q < s.queryLen; ++q) {
        int64_t bi = shape[0] == 1 ? 0 : b, hi = shape[1] == 1 ? 0 : h;
        if (counts[(bi * shape[1] + hi) * shape[2] + q / bs.qBlock] != 0)
          continue;
        for (int64_t c = 0; c < dv; ++c) {
          int64_t at =
              b * strides[0] + c * strides[3] +
              (s.layout == Layout::BSHD ? q * strides[1] + h * strides[2]
                                        : h * strides[1] + q * strides[2]);
          ASSERT_EQ(loadAsDouble(out, at), 0.0)
              << "b " << b << " h " << h << " q " << q << " c " << c;
        }
        if (args.lse) {
          auto ls = args.lse->effectiveStrides();
          double lse =
              loadAsDouble(*args.lse, b * ls[0] + h * ls[1] + q * ls[2]);
          ASSERT_TRUE(std::isinf(lse) && lse < 0) << "lse " << lse;
        }
      }
}

/// Random ascending lists of `density` (the first query block's lists
/// empty and the last one's full with `emptyAndFull`), row-major.
inline std::pair<std::vector<int32_t>, std::vector<int32_t>>
randomLists(const AttentionSpec &s, double density, bool emptyAndFull,
            uint64_t seed) {
  auto shape = s.blockIndicesShape();
  int64_t kvBlocks = blockCount(s.kvLen, s.blockSparse->kvBlock);
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution pick(density);
  std::vector<int32_t> counts, indices;
  for (int64_t l = 0; l < shape[0] * shape[1] * shape[2]; ++l) {
    int64_t qb = l % shape[2];
    std::vector<int32_t> list;
    for (int64_t blk = 0; blk < kvBlocks; ++blk) {
      bool full = emptyAndFull && qb == shape[2] - 1 && qb != 0;
      bool empty = emptyAndFull && qb == 0;
      if (!empty && (full || pick(rng)) &&
          static_cast<int64_t>(list.size()) < shape[3])
        list.push_back(static_cast<int32_t>(blk));
    }
    counts.push_back(static_cast<int32_t>(list.size()));
    list.resize(shape[3], -1); // unused slots: never read
    indices.insert(indices.end(), list.begin(), list.end());
  }
  return {counts, indices};
}

} // namespace attn_test

#endif
