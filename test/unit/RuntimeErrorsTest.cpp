//===- RuntimeErrorsTest.cpp - every runtime error path returns an error --===//
//
// One test per way a caller can get it wrong. Each must come back as an
// llvm::Error naming the problem: never an abort, never a kernel launch.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"

#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::sharedRuntime;

namespace {

/// f32, GQA 4:2, ragged, with lse: every buffer kind a spec kernel has.
AttentionSpec raggedSpec() {
  AttentionSpec s;
  s.batch = 2;
  s.numHeads = 4;
  s.numKvHeads = 2;
  s.queryLen = 16;
  s.kvLen = 32;
  s.headDim = 64;
  s.withKvLengths = true;
  s.returnLse = true;
  return s;
}

class RuntimeErrors : public ::testing::Test {
protected:
  void SetUp() override {
    auto k = sharedRuntime().compile(raggedSpec());
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    kernel = *k;
    buffers = std::make_unique<HostBuffers>(kernel->signature(),
                                            FillOptions{/*seed=*/1});
    args = buffers->args();
  }

  /// Runs with the (modified) args; returns the error text.
  std::string runError() { return errorOf(kernel->run(args)); }

  KernelRef kernel;
  std::unique_ptr<HostBuffers> buffers;
  AttentionArgs args;
};

TEST_F(RuntimeErrors, ValidArgsRun) { EXPECT_FALSE(kernel->run(args)); }

TEST_F(RuntimeErrors, WrongShape) {
  args.query.shape[2] = 17;
  std::string e = runError();
  EXPECT_NE(e.find("query: shape [2, 4, 17, 64]"), std::string::npos) << e;
  EXPECT_NE(e.find("expects [2, 4, 16, 64]"), std::string::npos) << e;
}

TEST_F(RuntimeErrors, WrongRank) {
  args.key.shape = {2, 2, 32 * 64};
  args.key.strides.clear();
  std::string e = runError();
  EXPECT_NE(e.find("key: rank 3"), std::string::npos) << e;
}

TEST_F(RuntimeErrors, WrongDtype) {
  args.value.dtype = DType::F16;
  std::string e = runError();
  EXPECT_NE(e.find("value: dtype f16 but the kernel expects f32"),
            std::string::npos)
      << e;
}

TEST_F(RuntimeErrors, WrongLengthsDtype) {
  args.kvLengths->dtype = DType::F32;
  std::string e = runError();
  EXPECT_NE(e.find("kv_lengths: dtype f32 but the kernel expects i32"),
            std::string::npos)
      << e;
}

TEST_F(RuntimeErrors, NullPointer) {
  args.output.data = nullptr;
  EXPECT_NE(runError().find("output: null data pointer"), std::string::npos);
}

TEST_F(RuntimeErrors, InnermostStrideNotOne) {
  args.query.strides = {4 * 16 * 128, 16 * 128, 128, 2};
  std::string e = runError();
  EXPECT_NE(e.find("query: innermost stride 2"), std::string::npos) << e;
}

TEST_F(RuntimeErrors, NegativeStride) {
  args.key.strides = {2 * 32 * 64, 32 * 64, -64, 1};
  std::string e = runError();
  EXPECT_NE(e.find("key: negative stride -64 in dim 2"), std::string::npos)
      << e;
}

TEST_F(RuntimeErrors, StrideCountMismatch) {
  args.value.strides = {64, 1};
  std::string e = runError();
  EXPECT_NE(e.find("value: 2 strides for rank 4"), std::string::npos) << e;
}

TEST_F(RuntimeErrors, OverlappingOutput) {
  // Every head writes the same rows: racing threads, undefined results.
  args.output.strides = {16 * 64, 0, 64, 1};
  std::string e = runError();
  EXPECT_NE(e.find("output: strides [1024, 0, 64, 1] make distinct elements "
                   "share memory"),
            std::string::npos)
      << e;
}

TEST_F(RuntimeErrors, KvLengthPastSkv) {
  buffers->setKvLengths({32, 33});
  std::string e = runError();
  EXPECT_NE(e.find("kv_lengths: value 33 at batch 1 is outside [0, Skv = "
                   "32]"),
            std::string::npos)
      << e;
}

TEST_F(RuntimeErrors, NegativeKvLength) {
  buffers->setKvLengths({-1, 0});
  std::string e = runError();
  EXPECT_NE(e.find("kv_lengths: value -1 at batch 0"), std::string::npos) << e;
}

TEST_F(RuntimeErrors, MissingBuffer) {
  args.kvLengths.reset();
  EXPECT_NE(runError().find("kv_lengths: missing"), std::string::npos);
}

TEST_F(RuntimeErrors, UnexpectedBuffer) {
  args.bias = args.query;
  EXPECT_NE(runError().find("bias: given, but the kernel takes no such"),
            std::string::npos);
}

TEST(RuntimeCompileErrors, CudaCompileErrorsAreValues) {
  // f32 is CPU-only: the GPU lowering says so (test/unit/GpuRuntimeTest.cpp
  // covers the CUDA backend).
  std::string e = errorOf(sharedRuntime().compile(raggedSpec(), Target::Cuda));
  EXPECT_EQ(e.rfind("lowering failed: ", 0), 0u) << e;
  e = errorOf(sharedRuntime().compileMlir("", Target::Cuda));
  EXPECT_EQ(e, "the MLIR input holds no attn.attention");
}

TEST(RuntimeCompileErrors, UnknownTargetName) {
  EXPECT_EQ(parseTarget("cpu"), Target::Cpu);
  EXPECT_EQ(parseTarget("cuda"), Target::Cuda);
  EXPECT_FALSE(parseTarget("tpu").has_value());
}

TEST(RuntimeCompileErrors, InvalidSpec) {
  AttentionSpec s;
  s.numHeads = 6;
  s.numKvHeads = 4;
  std::string e = errorOf(sharedRuntime().compile(s));
  EXPECT_EQ(e, "invalid attention spec: query heads (6) must be a multiple "
               "of kv heads (4)");
}

TEST(RuntimeCompileErrors, InvalidCompileOptions) {
  CompileOptions o;
  o.tileRows = 0;
  std::string e =
      errorOf(sharedRuntime().compile(AttentionSpec(), Target::Cpu, o));
  EXPECT_EQ(e, "tile-rows must be > 0, got 0");
}

TEST(RuntimeCompileErrors, LoweringFailureIsAnError) {
  CompileOptions o;
  o.tileKv = 24; // attn-tile-flash wants a multiple of 16
  std::string e =
      errorOf(sharedRuntime().compile(AttentionSpec(), Target::Cpu, o));
  EXPECT_NE(e.find("lowering failed"), std::string::npos) << e;
  EXPECT_NE(e.find("tile-kv must be a positive multiple of"), std::string::npos)
      << e;
}

TEST(RuntimeCompileErrors, MalformedMlir) {
  std::string e = errorOf(sharedRuntime().compileMlir("func.func @f( {"));
  EXPECT_EQ(e.rfind("malformed MLIR input: 1:", 0), 0u) << e;
}

TEST(RuntimeCompileErrors, MlirWithoutAttention) {
  std::string e = errorOf(sharedRuntime().compileMlir("func.func @f() {\n"
                                                      "  return\n}\n"));
  EXPECT_EQ(e, "the MLIR input holds no attn.attention");
}

constexpr const char *kTwoOps = R"mlir(
func.func @f(%q: tensor<1x1x8x64xf32>, %k: tensor<1x1x8x64xf32>,
             %v: tensor<1x1x8x64xf32>) -> tensor<1x1x8x64xf32> {
  %a = attn.attention %q, %k, %v : tensor<1x1x8x64xf32>,
      tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32> -> tensor<1x1x8x64xf32>
  %b = attn.attention %a, %k, %v : tensor<1x1x8x64xf32>,
      tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32> -> tensor<1x1x8x64xf32>
  return %b : tensor<1x1x8x64xf32>
}
)mlir";

TEST(RuntimeCompileErrors, MlirWithTwoAttentions) {
  std::string e = errorOf(sharedRuntime().compileMlir(kTwoOps));
  EXPECT_EQ(e, "the MLIR input holds 2 attn.attention ops; a kernel "
               "compiles exactly one");
}

constexpr const char *kComputedOperand = R"mlir(
func.func @f(%q: tensor<1x1x8x64xf32>, %k: tensor<1x1x8x64xf32>,
             %v: tensor<1x1x8x64xf32>) -> tensor<1x1x8x64xf32> {
  %k2 = arith.addf %k, %k : tensor<1x1x8x64xf32>
  %o = attn.attention %q, %k2, %v : tensor<1x1x8x64xf32>,
      tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32> -> tensor<1x1x8x64xf32>
  return %o : tensor<1x1x8x64xf32>
}
)mlir";

TEST(RuntimeCompileErrors, MlirOperandComputedInFunction) {
  std::string e = errorOf(sharedRuntime().compileMlir(kComputedOperand));
  EXPECT_EQ(e, "operand key is computed inside @f; kernel buffers must be "
               "arguments of the function");
}

constexpr const char *kCapture = R"mlir(
func.func @f(%q: tensor<1x1x8x64xf32>, %k: tensor<1x1x8x64xf32>,
             %v: tensor<1x1x8x64xf32>, %w: f32) -> tensor<1x1x8x64xf32> {
  %o = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %r = arith.mulf %s, %w : f32
      attn.yield %r : f32
    } : tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32>
      -> tensor<1x1x8x64xf32>
  return %o : tensor<1x1x8x64xf32>
}
)mlir";

TEST(RuntimeCompileErrors, MlirRegionCapturesNonConstant) {
  std::string e = errorOf(sharedRuntime().compileMlir(kCapture));
  EXPECT_NE(e.find("uses a value of type f32 defined outside attn.attention "
                   "that is not a constant"),
            std::string::npos)
      << e;
}

// Run-time sizes are resolved per call from the query and key, which needs
// the buffers of a spec: not with a bias (or bool mask, segment ids).
constexpr const char *kDynamic = R"mlir(
func.func @f(%q: tensor<1x1x?x64xf32>, %k: tensor<1x1x8x64xf32>,
             %v: tensor<1x1x8x64xf32>, %b: tensor<1x1x?x8xf32>)
    -> tensor<1x1x?x64xf32> {
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x1x?x8xf32>)
      : tensor<1x1x?x64xf32>, tensor<1x1x8x64xf32>, tensor<1x1x8x64xf32>
      -> tensor<1x1x?x64xf32>
  return %o : tensor<1x1x?x64xf32>
}
)mlir";

TEST(RuntimeCompileErrors, MlirDynamicShapeWithBias) {
  std::string e = errorOf(sharedRuntime().compileMlir(kDynamic));
  EXPECT_EQ(e, "query has a dynamic shape (tensor<1x1x?x64xf32>); run-time "
               "sizes need an op without bool_mask, bias or segment ids");
}

TEST(RuntimeCompileErrors, MlirVerifierError) {
  // Hq = 3, Hkv = 2: parses, then fails the op verifier.
  std::string bad = R"mlir(
func.func @f(%q: tensor<1x3x8x64xf32>, %k: tensor<1x2x8x64xf32>,
             %v: tensor<1x2x8x64xf32>) -> tensor<1x3x8x64xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x3x8x64xf32>,
      tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32> -> tensor<1x3x8x64xf32>
  return %o : tensor<1x3x8x64xf32>
}
)mlir";
  std::string e = errorOf(sharedRuntime().compileMlir(bad));
  EXPECT_NE(e.find("query heads (3) must be a multiple of key/value heads "
                   "(2)"),
            std::string::npos)
      << e;
}

TEST(RuntimeCompileErrors, ReferenceRejectsRegions) {
  KernelSignature sig = signatureForSpec(raggedSpec());
  sig.hasScoreMod = true;
  HostBuffers buffers(sig, FillOptions{});
  std::string e = errorOf(referenceAttention(sig, buffers.args()));
  EXPECT_EQ(e, "the reference has no program for the score_mod/mask_mod "
               "regions (signatureForOp compiles them)");
}

} // namespace
