//===- GpuBlockSparseTest.cpp - block-sparse masks on the GPU vs float64 --===//
//
// attn.attention's block_mask through attn-to-nvvm: the flash kernel
// iterates the union of the lists of its row block (passes/gpu/
// BlockSparse.cpp) and masks the keys of blocks a row does not list.
// Checked against the float64 reference (runtime/Reference.cpp, the one
// definition of visibility) on fresh random inputs and lists of densities
// 100 %, ~50 %, ~10 % and 0 % (an empty list: rows exactly 0, lse -inf),
// with causal / sliding-window masks, ragged kv_lengths, GQA 4:1 and 7:1
// with shared (H' = 1) and per-head lists, block sizes 64, 96 and 128,
// lengths no multiple of the blocks, head dims 40, 64 and 128, decode
// with split-KV; on sm_90 (mma.sync) and sm_90a (wgmma where the shape
// takes it); equal to the dense bool_mask kernel given the same pattern;
// bad lists are an error naming the operand before anything is written.
//
// Tolerances (runtime/Check.h, toleranceFor): normwise output error f16
// 2e-3, bf16 1.6e-2; lse 2e-5 relative; NaN never passes. Without a device
// every case still compiles (PTX through the pipeline), then skips.
//
//===----------------------------------------------------------------------===//
#include "BlockSparseTestUtils.h"
#include "GpuTestUtils.h"
#include "ReferenceTestUtils.h"
#include "SpecTestUtils.h"

#include <cmath>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

struct SparseCase {
  std::string name, spec;
  double density;
  bool emptyAndFull = false;
};

std::vector<SparseCase> sparseCases() {
  std::vector<SparseCase> out;
  for (auto [tag, d] :
       {std::pair{"d100", 1.0}, {"d50", 0.5}, {"d10", 0.1}, {"d0", 0.0}})
    out.push_back({std::string("mha_b64_") + tag,
                   "mha:b=2,hq=3,sq=300,skv=333,d=64,dtype=bf16,lse,"
                   "blocks=64:64:head",
                   d});
  for (const char *t : {"f16", "bf16"}) {
    std::string dt = t;
    out.push_back({"gqa4_causal_b128_" + dt,
                   "gqa:b=1,hq=8,hkv=2,sq=300,skv=300,d=64,dtype=" + dt +
                       ",causal,lse,blocks=128:128",
                   0.6, true});
    out.push_back({"gqa7_window_b64_d40_" + dt,
                   "gqa:b=2,hq=7,hkv=1,sq=150,skv=270,d=40,dtype=" + dt +
                       ",causal,offset=120,window=80:0,lse,blocks=64:64:batch",
                   0.5, true});
  }
  out.push_back({"gqa4_head_lists_window_d128",
                 "gqa:b=2,hq=8,hkv=2,sq=130,skv=257,d=128,dtype=bf16,causal,"
                 "offset=127,window=100:0,lse,blocks=64:64:head:batch",
                 0.4, true});
  out.push_back({"gqa7_head_lists_b128",
                 "gqa:b=1,hq=7,hkv=1,sq=200,skv=300,d=64,dtype=f16,lse,"
                 "blocks=128:128:head",
                 0.5, true});
  out.push_back({"gqa7_head_lists_d10",
                 "gqa:b=1,hq=14,hkv=2,sq=260,skv=700,d=128,dtype=bf16,lse,"
                 "blocks=64:128:head",
                 0.1});
  out.push_back({"ragged_b64_128",
                 "gqa:b=3,hq=4,hkv=1,sq=177,skv=301,d=64,dtype=bf16,ragged,"
                 "lse,blocks=64:128:head:batch",
                 0.5, true});
  // 96-key blocks: the 64-key tile halves to 32 (whole tiles per block).
  out.push_back({"blocks96_causal",
                 "gqa:b=1,hq=4,hkv=2,sq=200,skv=400,d=64,dtype=bf16,causal,"
                 "lse,blocks=96:96",
                 0.5, true});
  out.push_back({"bshd_d128_b128",
                 "gqa:b=1,hq=8,hkv=2,sq=257,skv=520,d=128,dtype=bf16,"
                 "layout=bshd,lse,blocks=128:128",
                 0.5, true});
  // Decode: 4 rows per KV head (key warps split the tiles), split-KV over
  // the list.
  out.push_back({"decode_split_head_lists",
                 "gqa:b=2,hq=8,hkv=2,sq=1,skv=3000,d=128,dtype=bf16,lse,"
                 "blocks=128:128:head",
                 0.5});
  return out;
}

void checkSparse(const SparseCase &c, const std::string &chip) {
  if (chip == "sm_90a" && deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (ATTN_TEST_SEED)");
  AttentionSpec s = specOf(c.spec);
  CompileOptions options;
  options.gpuChip = chip;
  auto kernel = sharedRuntime().compile(s, Target::Cuda, options);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_FALSE((*kernel)->gpuBinary().empty());
  SKIP_WITHOUT_DEVICE();
  const KernelSignature &sig = (*kernel)->signature();
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(sig, fill);
  auto [counts, indices] = randomLists(s, c.density, c.emptyAndFull, seed);
  buffers.setBlockMask(counts, indices);
  if (s.withKvLengths) {
    std::vector<int32_t> lengths;
    for (int64_t b = 0; b < s.batch; ++b)
      lengths.push_back(static_cast<int32_t>(s.kvLen - (b * 97) % s.kvLen));
    buffers.setKvLengths(lengths);
  }
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  SCOPED_TRACE("plan: " + (*kernel)->gpuLaunchPlan());
  expectMatchesReference(sig, buffers);
  expectEmptyBlocksZero(s, buffers.args(), counts);
}

class GpuBlockSparse : public ::testing::TestWithParam<SparseCase> {};

TEST_P(GpuBlockSparse, MatchesReferenceSm90) {
  checkSparse(GetParam(), "sm_90");
}
TEST_P(GpuBlockSparse, MatchesReferenceSm90a) {
  checkSparse(GetParam(), "sm_90a");
}

INSTANTIATE_TEST_SUITE_P(Lists, GpuBlockSparse,
                         ::testing::ValuesIn(sparseCases()),
                         [](const auto &info) { return info.param.name; });

/// The pattern expanded into a dense [1, 1, Sq, Skv] bool_mask gives the
/// same output through the dense GPU kernel (masks per score).
TEST(GpuBlockSparseDense, EqualsTheExpandedBoolMask) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  AttentionSpec s = specOf("gqa:b=1,hq=4,hkv=1,sq=130,skv=200,d=64,"
                           "dtype=bf16,causal,blocks=64:64");
  auto sparse = sharedRuntime().compile(s, Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(sparse)) << llvm::toString(sparse.takeError());
  auto dense = sharedRuntime().compileMlir(R"mlir(
func.func @f(%q: tensor<1x4x130x64xbf16>, %k: tensor<1x1x200x64xbf16>,
             %v: tensor<1x1x200x64xbf16>, %m: tensor<1x1x130x200xi1>)
    -> tensor<1x4x130x64xbf16> {
  %o = attn.attention %q, %k, %v bool_mask(%m : tensor<1x1x130x200xi1>)
      {mask = #attn.mask<causal = true>}
      : tensor<1x4x130x64xbf16>, tensor<1x1x200x64xbf16>, tensor<1x1x200x64xbf16>
      -> tensor<1x4x130x64xbf16>
  return %o : tensor<1x4x130x64xbf16>
}
)mlir",
                                           Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  SKIP_WITHOUT_DEVICE();
  HostBuffers buffers((*sparse)->signature(), FillOptions{seed});
  auto [counts, indices] = randomLists(s, 0.5, true, seed);
  buffers.setBlockMask(counts, indices);
  ASSERT_TRUE(ok((*sparse)->run(buffers.args())));

  std::vector<uint8_t> mask(130 * 200, 0);
  int64_t maxBlocks = s.blockIndicesShape()[3];
  for (int64_t q = 0; q < 130; ++q) {
    int64_t qb = q / 64;
    for (int32_t i = 0; i < counts[qb]; ++i)
      for (int64_t j = indices[qb * maxBlocks + i] * 64;
           j < std::min<int64_t>(200, (indices[qb * maxBlocks + i] + 1) * 64);
           ++j)
        mask[q * 200 + j] = 1;
  }
  std::vector<uint16_t> out(4 * 130 * 64, 0x7fc0); // bf16 NaN
  AttentionArgs args;
  args.query = buffers.args().query;
  args.key = buffers.args().key;
  args.value = buffers.args().value;
  args.boolMask =
      BufferRef::contiguous(mask.data(), DType::I1, {1, 1, 130, 200});
  args.output = BufferRef::contiguous(out.data(), DType::BF16, {1, 4, 130, 64});
  ASSERT_TRUE(ok((*dense)->run(args)));
  const BufferRef &got = buffers.args().output;
  auto st = got.effectiveStrides();
  double maxDiff = 0, maxRef = 0;
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t q = 0; q < 130; ++q)
      for (int64_t c = 0; c < 64; ++c) {
        double a = loadAsDouble(got, h * st[1] + q * st[2] + c * st[3]);
        double b = loadAsDouble(args.output, (h * 130 + q) * 64 + c);
        ASSERT_FALSE(std::isnan(a) || std::isnan(b)) << h << " " << q;
        maxDiff = std::max(maxDiff, std::fabs(a - b));
        maxRef = std::max(maxRef, std::fabs(b));
      }
  // The same 64-key tiles in the same order over the same visible keys
  // (the dense kernel's fully masked tiles add exact zeros): equal up to
  // one bf16 rounding step of the output (2^-7 relative).
  EXPECT_LE(maxDiff, 8e-3 * std::max(1.0, maxRef));
}

/// Bad lists are an error naming the operand and the position before the
/// launch (AttentionArgs' checkBlockMask, shared with the CPU): the output
/// keeps its NaN fill.
TEST(GpuBlockSparseErrors, BadListsNameTheOperandAndWriteNothing) {
  AttentionSpec s =
      specOf("mha:b=1,hq=2,sq=100,skv=200,d=64,dtype=bf16,blocks=64:64");
  auto kernel = sharedRuntime().compile(s, Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  SKIP_WITHOUT_DEVICE();
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
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
  expectError({0, 5}, {0, 1, 2, 3, 0, 1, 2, 3},
              "kv_num_blocks: value 5 at [0, 0, 1] is outside [0, maxBlocks "
              "= 4]");
  buffers.setBlockMask({1, 0}, {3, 99, -7, 3, 42, 42, 42, 42});
  EXPECT_TRUE(ok((*kernel)->run(buffers.args())));
}

/// Lists in device memory get the same check (copied to the host on the
/// call's stream first, as device kv_lengths are): the launch never
/// happens and the output keeps its fill.
TEST(GpuBlockSparseErrors, DeviceListsAreCheckedToo) {
  AttentionSpec s =
      specOf("mha:b=1,hq=2,sq=100,skv=200,d=64,dtype=bf16,blocks=64:64");
  auto kernel = sharedRuntime().compile(s, Target::Cuda);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  DEVICE_OR_SKIP(driver);
  HostBuffers buffers((*kernel)->signature(), FillOptions{1});
  std::vector<int32_t> counts = {1, 3}, indices = {0, -1, -1, -1, 2, 1, 3, -1};
  auto num = cuda::DeviceBuffer::create(*driver, counts.size() * 4);
  auto idx = cuda::DeviceBuffer::create(*driver, indices.size() * 4);
  ASSERT_TRUE(num && idx);
  ASSERT_TRUE(ok(driver->copyToDevice(num->get(), counts.data(), 8)));
  ASSERT_TRUE(ok(driver->copyToDevice(idx->get(), indices.data(), 32)));
  AttentionArgs args = buffers.args();
  args.set(ArgRole::KvNumBlocks,
           BufferRef::device(num->get(), DType::I32, {1, 1, 2}));
  args.set(ArgRole::KvIndices,
           BufferRef::device(idx->get(), DType::I32, {1, 1, 2, 4}));
  buffers.resetOutputs();
  EXPECT_EQ(errorOf((*kernel)->run(args)),
            "kv_indices: value 1 at [0, 0, 1, 1] is not above the entry "
            "before it (2); a query block's KV blocks must be strictly "
            "ascending");
  const BufferRef &out = buffers.args().output;
  auto st = out.effectiveStrides();
  for (int64_t q = 0; q < 100; ++q)
    ASSERT_TRUE(std::isnan(loadAsDouble(out, q * st[2]))) << "q " << q;
}

/// KV blocks that are not whole key tiles are a compile error naming the
/// block size (lit: block-sparse-gpu-invalid.mlir).
TEST(GpuBlockSparseErrors, KvBlocksOffTheTileAreACompileError) {
  auto odd = sharedRuntime().compile(
      specOf("mha:hq=2,sq=64,skv=128,d=64,dtype=bf16,blocks=64:40"),
      Target::Cuda);
  EXPECT_NE(errorOf(std::move(odd))
                .find("block_size kv_block 40 must be a "
                      "multiple of the kernel's key tile"),
            std::string::npos);
}

} // namespace
