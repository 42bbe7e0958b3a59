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

/// Every math op a score_mod may hold compiles on the CPU and matches the
/// float64 reference (f32 tolerance), all in one region (one compile):
/// score + 0.1 * sum of op(x), with x kept inside each op's domain by
/// x = 0.9 * tanh(score) and y = 1 + x². cbrt, erf and erfc have no LLVM
/// intrinsic (polynomials) and acosh/asinh/atanh none either (expanded):
/// they used to fail at JIT translation.
TEST(MlirNumerics, ScoreModMathOps) {
  const char *ops[] = {
      "math.cbrt %x",         "math.erf %x",       "math.erfc %x",
      "math.acosh %y",        "math.asinh %x",     "math.atanh %x",
      "math.atan %x",         "math.atan2 %x, %y", "math.asin %x",
      "math.acos %x",         "math.sinh %x",      "math.cosh %x",
      "math.tan %x",          "math.expm1 %x",     "math.log10 %y",
      "math.log2 %y",         "math.rsqrt %y",     "math.powf %y, %x",
      "math.copysign %y, %x", "math.round %x3",    "math.roundeven %x3",
      "math.trunc %x3"};
  std::string body, sum = "%s0 = arith.constant 0.0 : f32\n";
  for (auto [i, op] : llvm::enumerate(ops)) {
    std::string n = std::to_string(i);
    body += "%m" + n + " = " + op + " : f32\n";
    sum += "%s" + std::to_string(i + 1) + " = arith.addf %s" + n + ", %m" + n +
           " : f32\n";
  }
  std::string last = "%s" + std::to_string(std::size(ops));
  std::string text = R"mlir(
func.func @f(%q: tensor<1x2x19x40xf32>, %k: tensor<1x1x45x40xf32>,
             %v: tensor<1x1x45x40xf32>)
    -> (tensor<1x2x19x40xf32>, tensor<1x2x19xf32>) {
  %o, %lse = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %c09 = arith.constant 0.9 : f32
      %c01 = arith.constant 0.1 : f32
      %one = arith.constant 1.0 : f32
      %t = math.tanh %s : f32
      %x = arith.mulf %t, %c09 : f32
      %xx = arith.mulf %x, %x : f32
      %y = arith.addf %xx, %one : f32
      %x3 = arith.mulf %x, %y : f32
)mlir" + body + sum + "%w = arith.mulf " +
                     last + ", %c01 : f32\n" + R"mlir(
      %r = arith.addf %s, %w : f32
      attn.yield %r : f32
    } : tensor<1x2x19x40xf32>, tensor<1x1x45x40xf32>, tensor<1x1x45x40xf32>
      -> tensor<1x2x19x40xf32>, tensor<1x2x19xf32>
  return %o, %lse : tensor<1x2x19x40xf32>, tensor<1x2x19xf32>
}
)mlir";
  checkMlir(text);
}
