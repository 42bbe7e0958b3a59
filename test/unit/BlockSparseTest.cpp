//===- BlockSparseTest.cpp - block-sparse masks: kernels vs float64 -------===//
//
// attn.attention's block_mask (FlexAttention's BlockMask: per query block of
// BQ rows, a list of visible KV blocks of BK keys). The CPU kernels iterate
// only the listed blocks; here they are checked against the float64
// reference (the one definition of visibility, runtime/Reference.cpp) for
// random lists of several densities, empty and full lists, composed with
// causal / sliding-window masks, kv_lengths and GQA, at block sizes 16 to
// 128 and lengths that are no multiple of them; against the dense bool_mask
// path given the same pattern; and for the run-time checks of the lists.
//
// Tolerances (runtime/Check.h, toleranceFor): normwise output error f32
// 2e-5, f16 2e-3, bf16 1.6e-2; lse 2e-5; rows that see nothing must be
// exactly 0 with lse -inf; NaN never passes.
//
//===----------------------------------------------------------------------===//
#include "BlockSparseTestUtils.h"
#include "ReferenceTestUtils.h"
#include "RuntimeTestUtils.h"

#include "dialect/BlockMask.h"
#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cmath>
#include <random>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::expectEmptyBlocksZero;
using attn_test::ok;
using attn_test::randomLists;
using attn_test::sharedRuntime;
using attn_test::specOf;
using attn_test::testSeed;

namespace {

struct Case {
  std::string name, spec;
  double density;
  /// Lists of query block 0 are emptied, of the last query block filled.
  bool emptyAndFull = false;
  /// Compile the kernel with run-time batch, Sq and Skv.
  bool runTimeSizes = false;
};

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return info.param.name;
}

class BlockSparseNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(BlockSparseNumerics, MatchesReference) {
  const Case &c = GetParam();
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (ATTN_TEST_SEED)");
  AttentionSpec s = specOf(c.spec);
  // Run-time sizes: one kernel for every size, called with this one.
  auto kernel =
      sharedRuntime().compile(c.runTimeSizes ? s.withRunTimeSizes() : s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  KernelSignature sig = signatureForSpec(s);
  FillOptions fill;
  fill.seed = seed;
  fill.rowPadding = 2;
  HostBuffers buffers(sig, fill);
  auto [counts, indices] = randomLists(s, c.density, c.emptyAndFull, seed);
  buffers.setBlockMask(counts, indices);
  if (s.withKvLengths) {
    std::vector<int32_t> lengths;
    for (int64_t b = 0; b < s.batch; ++b)
      lengths.push_back(static_cast<int32_t>(s.kvLen - (b * 37) % s.kvLen));
    buffers.setKvLengths(lengths);
  }
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  attn_test::expectMatchesReference(sig, buffers);
  expectEmptyBlocksZero(s, buffers.args(), counts);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // Densities of visible blocks; 0 leaves every row empty.
  for (auto [tag, d] : {std::pair{"d100", 1.0},
                        {"d50", 0.5},
                        {"d25", 0.25},
                        {"d10", 0.1},
                        {"d0", 0.0}})
    out.push_back({std::string("mha_b64_") + tag,
                   "mha:b=2,hq=3,sq=200,skv=333,d=32,lse,blocks=64:64:head",
                   d});
  for (const char *t : {"f32", "f16", "bf16"}) {
    std::string dt = t;
    out.push_back({"gqa4_causal_b128_" + dt,
                   "gqa:b=1,hq=8,hkv=2,sq=300,skv=300,d=64,dtype=" + dt +
                       ",causal,lse,blocks=128:128",
                   0.6, true});
    out.push_back({"gqa7_window_b64_" + dt,
                   "gqa:b=2,hq=7,hkv=1,sq=150,skv=270,d=48,dtype=" + dt +
                       ",causal,offset=120,window=80:0,lse,blocks=64:64:batch",
                   0.5, true});
  }
  // Per-query-head lists under GQA: the group's union, other heads masked.
  for (const char *t : {"f32", "bf16"})
    out.push_back(
        {std::string("gqa4_head_lists_window_") + t,
         std::string("gqa:b=2,hq=8,hkv=2,sq=130,skv=257,d=32,dtype=") + t +
             ",causal,offset=127,window=100:0,lse,"
             "blocks=64:64:head:batch",
         0.4, true});
  out.push_back({"gqa7_head_lists_b128",
                 "gqa:b=1,hq=7,hkv=1,sq=200,skv=300,d=64,lse,"
                 "blocks=128:128:head",
                 0.5, true});
  out.push_back({"blocks16_32_ragged",
                 "gqa:b=3,hq=4,hkv=4,sq=77,skv=101,d=16,ragged,lse,"
                 "blocks=16:32:head:batch",
                 0.4, true});
  out.push_back({"blocks32_bshd_window",
                 "gqa:b=1,hq=4,hkv=1,sq=90,skv=130,d=32,layout=bshd,"
                 "window=40:10,lse,blocks=32:32",
                 0.7, true});
  out.push_back({"q128_kv16_decode",
                 "gqa:b=2,hq=8,hkv=2,sq=1,skv=500,d=64,lse,blocks=128:16",
                 0.3});
  out.push_back({"run_time_sizes",
                 "gqa:b=2,hq=4,hkv=2,sq=140,skv=190,d=32,causal,lse,"
                 "blocks=64:64",
                 0.5, true, true});
  return out;
}

INSTANTIATE_TEST_SUITE_P(BlockSparse, BlockSparseNumerics,
                         ::testing::ValuesIn(cases()), caseName);

/// The same pattern expanded into a dense [1, 1, Sq, Skv] bool_mask gives
/// the same result through the dense path (bool masks applied per score).
TEST(BlockSparseDense, EqualsTheExpandedBoolMask) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  AttentionSpec s =
      specOf("gqa:b=1,hq=4,hkv=1,sq=130,skv=200,d=32,causal,blocks=64:32");
  auto sparse = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(sparse)) << llvm::toString(sparse.takeError());
  auto dense = sharedRuntime().compileMlir(R"mlir(
func.func @f(%q: tensor<1x4x130x32xf32>, %k: tensor<1x1x200x32xf32>,
             %v: tensor<1x1x200x32xf32>, %m: tensor<1x1x130x200xi1>)
    -> tensor<1x4x130x32xf32> {
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x130x200xi1>)
      {mask = #attn.mask<causal = true>}
      : tensor<1x4x130x32xf32>, tensor<1x1x200x32xf32>, tensor<1x1x200x32xf32>
      -> tensor<1x4x130x32xf32>
  return %o : tensor<1x4x130x32xf32>
}
)mlir");
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  HostBuffers buffers((*sparse)->signature(), FillOptions{seed});
  auto [counts, indices] = randomLists(s, 0.5, true, seed);
  buffers.setBlockMask(counts, indices);
  ASSERT_TRUE(ok((*sparse)->run(buffers.args())));

  std::vector<uint8_t> mask(130 * 200, 0);
  int64_t maxBlocks = s.blockIndicesShape()[3];
  for (int64_t q = 0; q < 130; ++q) {
    int64_t qb = q / 64;
    for (int32_t i = 0; i < counts[qb]; ++i)
      for (int64_t j = indices[qb * maxBlocks + i] * 32;
           j < std::min<int64_t>(200, (indices[qb * maxBlocks + i] + 1) * 32);
           ++j)
        mask[q * 200 + j] = 1;
  }
  std::vector<float> out(4 * 130 * 32, std::nanf(""));
  AttentionArgs args;
  args.query = buffers.args().query;
  args.key = buffers.args().key;
  args.value = buffers.args().value;
  args.boolMask =
      BufferRef::contiguous(mask.data(), DType::I1, {1, 1, 130, 200});
  args.output = BufferRef::contiguous(out.data(), DType::F32, {1, 4, 130, 32});
  ASSERT_TRUE(ok((*dense)->run(args)));
  const BufferRef &got = buffers.args().output;
  auto st = got.effectiveStrides();
  double maxDiff = 0, maxRef = 0;
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t q = 0; q < 130; ++q)
      for (int64_t c = 0; c < 32; ++c) {
        double a = loadAsDouble(got, h * st[1] + q * st[2] + c * st[3]);
        double b = out[(h * 130 + q) * 32 + c];
        ASSERT_FALSE(std::isnan(a) || std::isnan(b));
        maxDiff = std::max(maxDiff, std::fabs(a - b));
        maxRef = std::max(maxRef, std::fabs(b));
      }
  // Both are f32 flash loops over the same visible keys; only the tiles
  // (32 keys here, 64 there) order the sums differently.
  EXPECT_LE(maxDiff, 2e-6 * std::max(1.0, maxRef));
}

/// Bad lists are an error naming the operand and the position, before the
/// kernel runs: the output stays untouched (its NaN fill).
TEST(BlockSparseErrors, BadListsNameTheOperandAndWriteNothing) {
  AttentionSpec s = specOf("mha:b=1,hq=2,sq=100,skv=200,d=16,blocks=64:64");
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
  // [1, 1, 2] counts, [1, 1, 2, 4] indices; 4 KV blocks.
  auto expectError = [&](std::vector<int32_t> counts,
                         std::vector<int32_t> indices, const std::string &msg) {
    buffers.setBlockMask(counts, indices);
    buffers.resetOutputs();
    EXPECT_EQ(errorOf((*kernel)->run(buffers.args())), msg);
    const BufferRef &out = buffers.args().output;
    auto st = out.effectiveStrides();
    for (int64_t q = 0; q < 100; ++q)
      ASSERT_TRUE(std::isnan(loadAsDouble(out, q * st[2]))) << "q " << q;
  };
  expectError({2, 1}, {0, 4, -1, -1, 1, -1, -1, -1},
              "kv_indices: value 4 at [0, 0, 0, 1] is outside [0, ceil(Skv / "
              "kv_block) = 4)");
  expectError({1, 3}, {0, -1, -1, -1, 2, 1, 3, -1},
              "kv_indices: value 1 at [0, 0, 1, 1] is not above the entry "
              "before it (2); a query block's KV blocks must be strictly "
              "ascending");
  expectError({1, 2}, {0, -1, -1, -1, 3, 3, -1, -1},
              "kv_indices: value 3 at [0, 0, 1, 1] is not above the entry "
              "before it (3); a query block's KV blocks must be strictly "
              "ascending");
  expectError({0, 5}, {0, 1, 2, 3, 0, 1, 2, 3},
              "kv_num_blocks: value 5 at [0, 0, 1] is outside [0, maxBlocks "
              "= 4]");
  expectError({-1, 0}, {0, 1, 2, 3, 0, 1, 2, 3},
              "kv_num_blocks: value -1 at [0, 0, 0] is outside [0, maxBlocks "
              "= 4]");
  // Entries past the count are never read, whatever they hold.
  buffers.setBlockMask({1, 0}, {3, 99, -7, 3, 42, 42, 42, 42});
  EXPECT_TRUE(ok((*kernel)->run(buffers.args())));

  std::vector<int32_t> small(2);
  EXPECT_EQ(attn_test::runErrorWith(
                s, ArgRole::KvNumBlocks,
                BufferRef::contiguous(small.data(), DType::I32, {1, 2})),
            "kv_num_blocks: rank 2 [1, 2] but the kernel expects rank 3 "
            "[1, 1, 2]");
  EXPECT_EQ(attn_test::runErrorWith(
                s, ArgRole::KvIndices,
                BufferRef::contiguous(small.data(), DType::I32, {1, 1, 2, 1})),
            "kv_indices: shape [1, 1, 2, 1] but the kernel expects [1, 1, 2, "
            "4]");
  std::vector<int64_t> wide(2);
  EXPECT_EQ(attn_test::runErrorWith(
                s, ArgRole::KvNumBlocks,
                BufferRef::contiguous(wide.data(), DType::I64, {1, 1, 2})),
            "kv_num_blocks: dtype i64 but the kernel expects i32");
  AttentionSpec plain = s;
  plain.blockSparse.reset();
  EXPECT_EQ(attn_test::runErrorWith(
                plain, ArgRole::KvNumBlocks,
                BufferRef::contiguous(small.data(), DType::I32, {1, 1, 2})),
            "kv_num_blocks: given, but the kernel takes no such buffer");
}

TEST(BlockSparseErrors, KvBlocksOffTheTileStepAreACompileError) {
  // KV tiles are whole vectors of 16 keys and follow the KV block.
  auto odd = sharedRuntime().compile(
      specOf("mha:hq=2,sq=64,skv=64,d=16,blocks=64:24"));
  EXPECT_NE(errorOf(std::move(odd))
                .find("KV block size (24) must be a "
                      "multiple of 16"),
            std::string::npos);
}

TEST(BlockSparseSpec, ShorthandKeyAndSignature) {
  std::string error;
  auto spec = parseSpecShorthand(
      "gqa:b=2,hq=8,hkv=8,sq=300,skv=500,d=64,blocks=128:64:head:batch", error);
  ASSERT_TRUE(spec.has_value()) << error;
  ASSERT_TRUE(spec->blockSparse.has_value());
  EXPECT_EQ(spec->blockSparse->qBlock, 128);
  EXPECT_EQ(spec->blockSparse->kvBlock, 64);
  EXPECT_TRUE(spec->blockSparse->perHead && spec->blockSparse->perBatch);
  auto again = parseSpecShorthand(spec->key(), error);
  ASSERT_TRUE(again.has_value()) << error;
  EXPECT_EQ(*again, *spec);
  KernelSignature sig = signatureForSpec(*spec);
  const ArgInfo *num = sig.find(ArgRole::KvNumBlocks);
  const ArgInfo *idx = sig.find(ArgRole::KvIndices);
  ASSERT_TRUE(num && idx);
  EXPECT_EQ(num->shape, (llvm::SmallVector<int64_t, 4>{2, 8, 3}));
  EXPECT_EQ(idx->shape, (llvm::SmallVector<int64_t, 4>{2, 8, 3, 8}));
  EXPECT_EQ(idx->dtype, DType::I32);
  for (const char *bad : {"gqa:hkv=1,blocks=64", "gqa:hkv=1,blocks=64:x",
                          "gqa:hkv=1,blocks=64:64:heads"}) {
    EXPECT_FALSE(parseSpecShorthand(bad, error).has_value()) << bad;
    EXPECT_NE(error.find("blocks"), std::string::npos) << error;
  }
  EXPECT_FALSE(parseSpecShorthand("gqa:hkv=1,blocks=0:64", error).has_value());
  EXPECT_NE(error.find("block sizes"), std::string::npos) << error;
}

} // namespace
