//===- RuntimeDynamicSizesTest.cpp - one kernel, every size ---------------===//
//
// Kernels of run-time sizes (batch, Sq, Skv = `?`) against the float64
// reference at many sizes each: odd lengths (1, 7, 77, 1003), batch 1..5,
// head ratios 1:1, 4:1, 7:1, D != Dv, causal, sliding window and ragged
// lengths, f32 / f16 / bf16 under the tolerances of runtime/Check.h (f32
// 2e-5, f16 2e-3, bf16 1.6e-2 normwise on the output, lse 2e-5; NaN never
// passes). Outputs start as NaN inside guard zones, so a row the kernel
// misses or a write past the output fails. Then: static specs share one
// compiled kernel, and every run-time size that breaks a limit is an
// error naming it, with nothing written.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "dialect/Limits.h"
#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cmath>
#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::specOf;
using attn_test::testSeed;

namespace {

struct Sizes {
  int64_t batch, queryLen, kvLen;
};

/// Runs the one compiled kernel of `text` (which has `?` sizes) at every
/// size of `sizes` and checks each against the reference.
void checkEverySize(const char *text, llvm::ArrayRef<Sizes> sizes) {
  AttentionSpec spec = specOf(text);
  ASSERT_TRUE(spec.hasDynamicSizes());
  Runtime runtime(RuntimeOptions{2});
  auto kernel = runtime.compile(spec);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ((*kernel)->workItems(), -1) << "counted per call";
  uint64_t seed = testSeed();
  for (const Sizes &s : sizes) {
    AttentionSpec at = spec.withSizes(s.batch, s.queryLen, s.kvLen);
    SCOPED_TRACE(at.key() + ", seed " + std::to_string(seed) +
                 " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
    KernelSignature sig = signatureForSpec(at);
    FillOptions fill;
    fill.seed = seed++;
    fill.rowPadding = s.batch % 2 ? 0 : 3;
    HostBuffers buffers(sig, fill);
    ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
    auto ref = referenceAttention(sig, buffers.args());
    ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
    CheckReport report = checkAgainstReference(
        sig, buffers.args(), *ref, toleranceFor(dtypeOf(spec.dtype)));
    EXPECT_TRUE(report.passed) << report.summary();
    EXPECT_EQ(buffers.strayWrites(), "");
  }
  EXPECT_EQ(runtime.cacheStats().compiles, 1) << "one kernel for all sizes";
}

TEST(DynamicSizes, Gqa4To1CausalF32) {
  checkEverySize("gqa:b=?,hq=4,hkv=1,sq=?,skv=?,d=64,causal,lse",
                 {{1, 1, 1},
                  {1, 7, 7},
                  {3, 77, 77},
                  {2, 1, 1003},
                  {5, 13, 200},
                  {1, 1003, 1003},
                  {4, 0, 9},
                  {0, 5, 5}});
}

TEST(DynamicSizes, Gqa7To1SlidingWindowBf16DvDiffers) {
  checkEverySize("gqa:b=?,hq=7,hkv=1,sq=?,skv=?,d=80,dv=48,dtype=bf16,"
                 "layout=bshd,causal,window=31:0,lse",
                 {{1, 7, 7}, {2, 77, 77}, {3, 1, 300}, {1, 130, 1003}});
}

TEST(DynamicSizes, Mha1To1RaggedF16) {
  // Random kv_lengths in [0, Skv] per sequence (HostBuffers).
  checkEverySize("gqa:b=?,hq=2,hkv=2,sq=?,skv=?,d=128,dtype=f16,ragged",
                 {{1, 1, 7}, {5, 7, 77}, {2, 64, 65}, {3, 1, 1003}});
}

TEST(DynamicSizes, DecodeKeepsSqStatic) {
  AttentionSpec decode = specOf("gqa:b=4,hq=8,hkv=2,sq=1,skv=100,d=64");
  AttentionSpec dyn = decode.withRunTimeSizes();
  EXPECT_EQ(dyn.queryLen, 1) << "decode is its own kernel kind";
  EXPECT_EQ(dyn.batch, kDynamicSize);
  EXPECT_EQ(dyn.kvLen, kDynamicSize);
  EXPECT_EQ(dyn.key(),
            "gqa:b=?,hq=8,hkv=2,sq=1,skv=?,d=64,dtype=f32,layout=bhsd");
  EXPECT_EQ(specOf(dyn.key().c_str()), dyn) << "the key parses back";
  checkEverySize("gqa:b=?,hq=8,hkv=2,sq=1,skv=?,d=64,causal,lse",
                 {{1, 1, 1}, {4, 1, 100}, {2, 1, 1003}, {5, 1, 4096}});
}

TEST(DynamicSizes, StaticSpecsShareOneCompile) {
  Runtime runtime(RuntimeOptions{2});
  uint64_t seed = testSeed();
  int64_t previousItems = 0;
  for (const char *text : {"gqa:b=1,hq=4,hkv=2,sq=33,skv=70,d=64,causal",
                           "gqa:b=3,hq=4,hkv=2,sq=5,skv=500,d=64,causal",
                           "gqa:b=2,hq=4,hkv=2,s=129,d=64,causal"}) {
    SCOPED_TRACE(text);
    AttentionSpec spec = specOf(text);
    auto kernel = runtime.compile(spec);
    ASSERT_TRUE(static_cast<bool>(kernel))
        << llvm::toString(kernel.takeError());
    // A view checks calls against the spec's own sizes and counts its
    // items for them.
    EXPECT_EQ((*kernel)->signature().spec, spec);
    EXPECT_GT((*kernel)->workItems(), 0);
    EXPECT_NE((*kernel)->workItems(), previousItems);
    previousItems = (*kernel)->workItems();
    HostBuffers buffers((*kernel)->signature(), FillOptions{seed++});
    ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
    auto ref = referenceAttention((*kernel)->signature(), buffers.args());
    ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
    EXPECT_TRUE(checkAgainstReference((*kernel)->signature(), buffers.args(),
                                      *ref, toleranceFor(DType::F32))
                    .passed);
  }
  EXPECT_EQ(runtime.cacheStats().compiles, 1);
  // The same spec again is a memory hit; specialising compiles its own.
  AttentionSpec first = specOf("gqa:b=1,hq=4,hkv=2,sq=33,skv=70,d=64,causal");
  ASSERT_TRUE(static_cast<bool>(runtime.compile(first)));
  EXPECT_EQ(runtime.cacheStats().compiles, 1);
  CompileOptions specialised;
  specialised.runTimeSizes = false;
  auto own = runtime.compile(first, Target::Cpu, specialised);
  ASSERT_TRUE(static_cast<bool>(own)) << llvm::toString(own.takeError());
  EXPECT_EQ(runtime.cacheStats().compiles, 2);
  EXPECT_GT((*own)->workItems(), 0);
}

/// A call of the `?` kernel of `text` whose buffers have the given logical
/// sizes but no memory behind the big ones: every check must fail before
/// anything is read or written.
class SizeErrors : public ::testing::Test {
protected:
  std::string callWith(const char *text, Sizes q, Sizes k) {
    AttentionSpec spec = specOf(text);
    auto kernel = sharedRuntime().compile(spec);
    if (!kernel)
      return "compile failed: " + llvm::toString(kernel.takeError());
    AttentionArgs args;
    auto shape = [&](int64_t b, int64_t h, int64_t s, int64_t d) {
      return llvm::SmallVector<int64_t, 4>{b, h, s, d};
    };
    int64_t hq = spec.numHeads, hkv = spec.numKvHeads;
    args.query = BufferRef::contiguous(scratch.data(), DType::F32,
                                       shape(q.batch, hq, q.queryLen, 64));
    args.key = BufferRef::contiguous(scratch.data(), DType::F32,
                                     shape(k.batch, hkv, k.kvLen, 64));
    args.value = args.key;
    args.output = BufferRef::contiguous(output.data(), DType::F32,
                                        shape(q.batch, hq, q.queryLen, 64));
    if (spec.withKvLengths)
      args.kvLengths =
          BufferRef::contiguous(lengths.data(), DType::I32, {q.batch});
    return errorOf((*kernel)->run(args));
  }
  void expectNothingWritten() {
    for (float x : output)
      ASSERT_TRUE(std::isnan(x)) << "the failed call wrote its output";
  }
  std::vector<float> scratch = std::vector<float>(64, 0.0f);
  std::vector<float> output = std::vector<float>(64, NAN);
  std::vector<int32_t> lengths = {9, 9};
};

const char *kDyn = "gqa:b=?,hq=1,hkv=1,sq=?,skv=?,d=64";

TEST_F(SizeErrors, KvLengthPastI32) {
  int64_t big = limits::kMaxDim + 1;
  std::string e = callWith(kDyn, {1, 1, 0}, {1, 0, big});
  EXPECT_NE(e.find("kv length must be in [0, 2147483647], got 2147483648"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("Skv 2147483648"), std::string::npos) << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, BatchPastI32) {
  int64_t big = limits::kMaxDim + 1;
  std::string e = callWith(kDyn, {big, 1, 0}, {big, 0, 1});
  EXPECT_NE(e.find("batch must be in [0, 2147483647], got 2147483648"),
            std::string::npos)
      << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, QueryLengthPastI32) {
  int64_t big = limits::kMaxDim + 1;
  std::string e = callWith(kDyn, {1, big, 0}, {1, 0, 1});
  EXPECT_NE(e.find("query length must be in [0, 2147483647]"),
            std::string::npos)
      << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, MaskOffsetPlusQueryLength) {
  // The largest query position q_offset + Sq is an i32 lane.
  std::string e = callWith("gqa:b=?,hq=1,hkv=1,sq=?,skv=?,d=64,causal,"
                           "offset=2147483640",
                           {1, 10, 0}, {1, 0, 4});
  EXPECT_NE(e.find("mask offset + query length must be in"), std::string::npos)
      << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, ElementsPerTensor) {
  // 256 heads of 2^31 - 1 keys of 64 elements: past 2^40 elements in one
  // tensor.
  std::string e = callWith("gqa:b=?,hq=256,hkv=256,sq=?,skv=?,d=64", {1, 1, 0},
                           {1, 0, limits::kMaxDim});
  EXPECT_NE(e.find("more than 1099511627776 elements in one tensor"),
            std::string::npos)
      << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, BatchDisagrees) {
  std::string e = callWith(kDyn, {1, 1, 0}, {2, 0, 4});
  EXPECT_NE(e.find("key: shape [2, 1, 4, 64] but the kernel expects "
                   "[1, 1, 4, 64]"),
            std::string::npos)
      << e;
  expectNothingWritten();
}

TEST_F(SizeErrors, KvLengthsPastRunTimeSkv) {
  std::string e = callWith("gqa:b=?,hq=1,hkv=1,sq=?,skv=?,d=64,ragged",
                           {2, 1, 0}, {2, 0, 8});
  EXPECT_NE(e.find("kv_lengths: value 9 at batch 0 is outside [0, Skv = 8]"),
            std::string::npos)
      << e;
  expectNothingWritten();
}

// CUDA kernels take run-time sizes too (test/unit/GpuRunTimeSizesTest.cpp
// runs them); f32 still has no GPU lowering, sizes or not.
TEST(DynamicSizes, CudaTakesRunTimeSizes) {
  CompileOptions o;
  o.gpuChip = "sm_90";
  auto k = sharedRuntime().compile(
      specOf("gqa:b=?,hq=1,hkv=1,sq=?,skv=?,d=64,dtype=bf16"), Target::Cuda, o);
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  EXPECT_EQ((*k)->workItems(), -1);
  std::string e =
      errorOf(sharedRuntime().compile(specOf(kDyn), Target::Cuda, o));
  EXPECT_NE(e.find("is not supported on the GPU"), std::string::npos) << e;
}

} // namespace
