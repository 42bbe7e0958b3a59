//===- RuntimeMlirNumericsTest.cpp - kernels compiled from MLIR text ------===//
//
// Runtime::compileMlir wraps the one attn.attention of a function, passing
// bool_mask, bias and segment ids through as extra buffers in operand
// order. These cases check those operands (and regions) end to end against
// the float64 reference, same tolerances as RuntimeNumericsTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"

#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

/// Compiles `text`, runs it on random inputs and checks it against the
/// reference for `refSig` (default: the kernel's own signature).
void checkMlir(const std::string &text,
               std::optional<KernelSignature> refSig = std::nullopt) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
  auto kernel = sharedRuntime().compileMlir(text);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const KernelSignature &sig = (*kernel)->signature();
  FillOptions fill;
  fill.seed = seed;
  fill.rowPadding = 3;
  HostBuffers buffers(sig, fill);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  auto ref = referenceAttention(refSig ? *refSig : sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  CheckReport report = checkAgainstReference(
      sig, buffers.args(), *ref, toleranceFor(dtypeOf(sig.spec.dtype)));
  EXPECT_TRUE(report.passed) << report.summary();
  EXPECT_EQ(buffers.strayWrites(), "");
}

TEST(MlirNumerics, BroadcastBiasCausal) {
  checkMlir(R"mlir(
func.func @f(%q: tensor<2x4x70x64xf32>, %k: tensor<2x2x90x64xf32>,
             %v: tensor<2x2x90x64xf32>, %bias: tensor<1x1x70x90xf32>)
    -> (tensor<2x4x70x64xf32>, tensor<2x4x70xf32>) {
  %o, %lse = attn.attention %q, %k, %v bias(%bias : tensor<1x1x70x90xf32>)
      {mask = #attn.mask<causal = true, q_offset = 20>}
      : tensor<2x4x70x64xf32>, tensor<2x2x90x64xf32>, tensor<2x2x90x64xf32>
      -> tensor<2x4x70x64xf32>, tensor<2x4x70xf32>
  return %o, %lse : tensor<2x4x70x64xf32>, tensor<2x4x70xf32>
}
)mlir");
}

TEST(MlirNumerics, FullBiasBf16) {
  checkMlir(R"mlir(
func.func @f(%q: tensor<1x2x33x80xbf16>, %k: tensor<1x2x65x80xbf16>,
             %v: tensor<1x2x65x80xbf16>, %bias: tensor<1x2x33x65xbf16>)
    -> tensor<1x2x33x80xbf16> {
  %o = attn.attention %q, %k, %v bias(%bias : tensor<1x2x33x65xbf16>)
      : tensor<1x2x33x80xbf16>, tensor<1x2x65x80xbf16>, tensor<1x2x65x80xbf16>
      -> tensor<1x2x33x80xbf16>
  return %o : tensor<1x2x33x80xbf16>
}
)mlir");
}

TEST(MlirNumerics, BoolMaskAndLengthsF16) {
  checkMlir(R"mlir(
func.func @f(%q: tensor<2x4x40x64xf16>, %k: tensor<2x1x70x64xf16>,
             %v: tensor<2x1x70x64xf16>, %m: tensor<2x1x40x70xi1>,
             %len: tensor<2xi32>)
    -> (tensor<2x4x40x64xf16>, tensor<2x4x40xf32>) {
  %o, %lse = attn.attention %q, %k, %v bool_mask(%m : tensor<2x1x40x70xi1>)
      kv_lengths(%len : tensor<2xi32>)
      : tensor<2x4x40x64xf16>, tensor<2x1x70x64xf16>, tensor<2x1x70x64xf16>
      -> tensor<2x4x40x64xf16>, tensor<2x4x40xf32>
  return %o, %lse : tensor<2x4x40x64xf16>, tensor<2x4x40xf32>
}
)mlir");
}

TEST(MlirNumerics, SegmentIdsBshd) {
  checkMlir(R"mlir(
func.func @f(%q: tensor<2x100x4x64xf32>, %k: tensor<2x100x2x64xf32>,
             %v: tensor<2x100x2x64xf32>, %qs: tensor<2x100xi32>,
             %ks: tensor<2x100xi32>)
    -> (tensor<2x100x4x64xf32>, tensor<2x4x100xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      segment_ids(%qs, %ks : tensor<2x100xi32>, tensor<2x100xi32>)
      {layout = #attn.layout<bshd>, mask = #attn.mask<causal = true>}
      : tensor<2x100x4x64xf32>, tensor<2x100x2x64xf32>, tensor<2x100x2x64xf32>
      -> tensor<2x100x4x64xf32>, tensor<2x4x100xf32>
  return %o, %lse : tensor<2x100x4x64xf32>, tensor<2x4x100xf32>
}
)mlir");
}

/// score_mod multiplying by a constant defined outside the op (cloned into
/// the kernel) is the same as a scale of 0.5/sqrt(D).
TEST(MlirNumerics, ScoreModWithCapturedConstant) {
  std::string text = R"mlir(
func.func @f(%q: tensor<1x4x50x64xf32>, %k: tensor<1x2x80x64xf32>,
             %v: tensor<1x2x80x64xf32>)
    -> (tensor<1x4x50x64xf32>, tensor<1x4x50xf32>) {
  %half = arith.constant 0.5 : f32
  %o, %lse = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %r = arith.mulf %s, %half : f32
      attn.yield %r : f32
    } : tensor<1x4x50x64xf32>, tensor<1x2x80x64xf32>, tensor<1x2x80x64xf32>
      -> tensor<1x4x50x64xf32>, tensor<1x4x50xf32>
  return %o, %lse : tensor<1x4x50x64xf32>, tensor<1x4x50xf32>
}
)mlir";
  AttentionSpec s;
  s.numHeads = 4;
  s.numKvHeads = 2;
  s.queryLen = 50;
  s.kvLen = 80;
  s.headDim = 64;
  s.scale = 0.5f / 8.0f;
  s.returnLse = true;
  checkMlir(text, signatureForSpec(s));
}

/// mask_mod `kv <= q` is the causal mask.
TEST(MlirNumerics, MaskModCausal) {
  std::string text = R"mlir(
func.func @f(%q: tensor<1x2x70x64xf32>, %k: tensor<1x2x70x64xf32>,
             %v: tensor<1x2x70x64xf32>)
    -> (tensor<1x2x70x64xf32>, tensor<1x2x70xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask_mod {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %c = arith.cmpi ule, %j, %i : index
      attn.yield %c : i1
    } : tensor<1x2x70x64xf32>, tensor<1x2x70x64xf32>, tensor<1x2x70x64xf32>
      -> tensor<1x2x70x64xf32>, tensor<1x2x70xf32>
  return %o, %lse : tensor<1x2x70x64xf32>, tensor<1x2x70xf32>
}
)mlir";
  AttentionSpec s;
  s.numHeads = s.numKvHeads = 2;
  s.queryLen = s.kvLen = 70;
  s.mask.causal = true;
  s.returnLse = true;
  checkMlir(text, signatureForSpec(s));
}

/// The same attention from a spec and from text is one cache entry each,
/// and both kernels agree with each other.
TEST(MlirNumerics, SpecAndTextAgree) {
  AttentionSpec s;
  s.numHeads = 4;
  s.numKvHeads = 1;
  s.queryLen = s.kvLen = 40;
  s.mask.causal = true;
  s.returnLse = true;
  std::string text = R"mlir(
func.func @f(%q: tensor<1x4x40x64xf32>, %k: tensor<1x1x40x64xf32>,
             %v: tensor<1x1x40x64xf32>)
    -> (tensor<1x4x40x64xf32>, tensor<1x4x40xf32>) {
  %o, %lse = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>}
      : tensor<1x4x40x64xf32>, tensor<1x1x40x64xf32>, tensor<1x1x40x64xf32>
      -> tensor<1x4x40x64xf32>, tensor<1x4x40xf32>
  return %o, %lse : tensor<1x4x40x64xf32>, tensor<1x4x40xf32>
}
)mlir";
  auto fromText = sharedRuntime().compileMlir(text);
  ASSERT_TRUE(static_cast<bool>(fromText))
      << llvm::toString(fromText.takeError());
  EXPECT_EQ((*fromText)->signature().spec, s);
  EXPECT_TRUE((*fromText)->signature().isPlainSpec());
  checkMlir(text, signatureForSpec(s));
}

} // namespace
