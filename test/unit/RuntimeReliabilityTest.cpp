//===- RuntimeReliabilityTest.cpp - issue-14 regressions ------------------===//
//
// Inputs that once crashed, hung or passed silently wrong: zero sizes,
// regions yielding values defined outside them, unknown CPUs, aliased
// buffers, and the float64 reference evaluating score_mod / mask_mod.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"

#include "runtime/AttentionArgs.h"
#include "runtime/Check.h"
#include "runtime/HostBuffers.h"
#include "runtime/Reference.h"

#include <cmath>
#include <vector>

using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

/// Compiles `text`, runs it on fresh inputs and checks it against the
/// float64 reference of its own signature (regions interpreted).
void checkAgainstOwnReference(const std::string &text) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto kernel = sharedRuntime().compileMlir(text);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  const KernelSignature &sig = (*kernel)->signature();
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(sig, fill);
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  auto ref = referenceAttention(sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  CheckReport report = checkAgainstReference(
      sig, buffers.args(), *ref, toleranceFor(dtypeOf(sig.spec.dtype)));
  EXPECT_TRUE(report.passed) << report.summary();
  EXPECT_EQ(buffers.strayWrites(), "");
}

AttentionSpec smallSpec() {
  AttentionSpec s;
  s.numHeads = 2;
  s.numKvHeads = 1;
  s.queryLen = 9;
  s.kvLen = 23;
  s.headDim = 16;
  s.returnLse = true;
  return s;
}

TEST(Reliability, ZeroKvLengthRowsAreZero) {
  // Once a hang (the KV loop stepped by 0).
  AttentionSpec s = smallSpec();
  s.kvLen = 0;
  auto kernel = sharedRuntime().compile(s);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{});
  ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
  const BufferRef &out = buffers.args().output;
  for (int64_t i = 0; i < out.numElements(); ++i)
    EXPECT_EQ(loadAsDouble(out, i), 0.0) << "element " << i;
  const BufferRef &lse = *buffers.args().lse;
  for (int64_t i = 0; i < lse.numElements(); ++i)
    EXPECT_EQ(loadAsDouble(lse, i), -INFINITY) << "lse " << i;
  auto ref = referenceAttention((*kernel)->signature(), buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  EXPECT_TRUE(checkAgainstReference((*kernel)->signature(), buffers.args(),
                                    *ref, toleranceFor(DType::F32))
                  .passed);
  EXPECT_EQ(buffers.strayWrites(), "");
}

TEST(Reliability, EmptyOutputsAreNoOps) {
  // Once SIGFPE (a division by zero work items).
  for (int which = 0; which < 3; ++which) {
    AttentionSpec s = smallSpec();
    (which == 0 ? s.batch : which == 1 ? s.numHeads : s.queryLen) = 0;
    SCOPED_TRACE(s.key());
    auto kernel = sharedRuntime().compile(s);
    ASSERT_TRUE(static_cast<bool>(kernel))
        << llvm::toString(kernel.takeError());
    EXPECT_EQ((*kernel)->workItems(), 0);
    HostBuffers buffers((*kernel)->signature(), FillOptions{});
    ASSERT_TRUE(ok((*kernel)->run(buffers.args())));
    EXPECT_EQ(buffers.strayWrites(), "");
  }
}

TEST(Reliability, MaskModYieldingAConstant) {
  // Once SIGSEGV: the canonicalizer hoists the constant out of the region
  // and the inliner found no mapping for it.
  checkAgainstOwnReference(R"mlir(
func.func @f(%q: tensor<1x2x20x16xf32>, %k: tensor<1x2x37x16xf32>,
             %v: tensor<1x2x37x16xf32>) -> tensor<1x2x20x16xf32> {
  %o = attn.attention %q, %k, %v mask_mod {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %t = arith.constant true
      attn.yield %t : i1
    } {mask = #attn.mask<causal = true, q_offset = 17>}
      : tensor<1x2x20x16xf32>, tensor<1x2x37x16xf32>, tensor<1x2x37x16xf32>
      -> tensor<1x2x20x16xf32>
  return %o : tensor<1x2x20x16xf32>
}
)mlir");
}

TEST(Reliability, ScoreModYieldingItsArgument) {
  checkAgainstOwnReference(R"mlir(
func.func @f(%q: tensor<1x2x20x16xf32>, %k: tensor<1x2x37x16xf32>,
             %v: tensor<1x2x37x16xf32>) -> tensor<1x2x20x16xf32> {
  %o = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      attn.yield %s : f32
    } : tensor<1x2x20x16xf32>, tensor<1x2x37x16xf32>, tensor<1x2x37x16xf32>
      -> tensor<1x2x20x16xf32>
  return %o : tensor<1x2x20x16xf32>
}
)mlir");
}

/// ALiBi (per-head slope times the query-key distance), then soft-capping,
/// checked against the reference's interpretation of the region.
TEST(Reliability, ReferenceEvaluatesAlibiAndSoftcap) {
  checkAgainstOwnReference(R"mlir(
func.func @f(%q: tensor<1x4x33x32xbf16>, %k: tensor<1x2x50x32xbf16>,
             %v: tensor<1x2x50x32xbf16>)
    -> (tensor<1x4x33x32xbf16>, tensor<1x4x33xf32>) {
  %c1 = arith.constant 1 : index
  %cm05 = arith.constant -0.5 : f32
  %o, %l = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %hp1 = arith.addi %h, %c1 : index
      %hi = arith.index_cast %hp1 : index to i32
      %hf = arith.sitofp %hi : i32 to f32
      %slope = arith.divf %cm05, %hf : f32
      %ii = arith.index_cast %i : index to i64
      %ji = arith.index_cast %j : index to i64
      %d = arith.subi %ii, %ji : i64
      %df = arith.sitofp %d : i64 to f32
      %ad = math.absf %df : f32
      %bias = arith.mulf %slope, %ad : f32
      %r = arith.addf %s, %bias : f32
      attn.yield %r : f32
    } {softcap = 5.0 : f32, mask = #attn.mask<causal = true, q_offset = 17>}
      : tensor<1x4x33x32xbf16>, tensor<1x2x50x32xbf16>, tensor<1x2x50x32xbf16>
      -> tensor<1x4x33x32xbf16>, tensor<1x4x33xf32>
  return %o, %l : tensor<1x4x33x32xbf16>, tensor<1x4x33xf32>
}
)mlir");
}

/// A custom block-diagonal mask (32-key blocks, XOR-free integer ops).
TEST(Reliability, ReferenceEvaluatesCustomMask) {
  checkAgainstOwnReference(R"mlir(
func.func @f(%q: tensor<2x2x40x16xf32>, %k: tensor<2x2x70x16xf32>,
             %v: tensor<2x2x70x16xf32>) -> tensor<2x2x40x16xf32> {
  %c32 = arith.constant 32 : index
  %c3 = arith.constant 3 : index
  %o = attn.attention %q, %k, %v mask_mod {
    ^bb0(%b: index, %h: index, %i: index, %j: index):
      %bi = arith.divui %i, %c32 : index
      %bj = arith.divui %j, %c32 : index
      %same = arith.cmpi eq, %bi, %bj : index
      %r = arith.remui %j, %c3 : index
      %hb = arith.addi %h, %b : index
      %keep = arith.cmpi ne, %r, %hb : index
      %both = arith.andi %same, %keep : i1
      attn.yield %both : i1
    } : tensor<2x2x40x16xf32>, tensor<2x2x70x16xf32>, tensor<2x2x70x16xf32>
      -> tensor<2x2x40x16xf32>
  return %o : tensor<2x2x40x16xf32>
}
)mlir");
}

TEST(Reliability, ReferenceRejectsUninterpretableRegions) {
  std::string text = R"mlir(
func.func @f(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>,
             %v: tensor<1x1x8x16xf32>) -> tensor<1x1x8x16xf32> {
  %o = attn.attention %q, %k, %v score_mod {
    ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
      %i32 = arith.bitcast %s : f32 to i32
      %r = arith.bitcast %i32 : i32 to f32
      attn.yield %r : f32
    } : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>
      -> tensor<1x1x8x16xf32>
  return %o : tensor<1x1x8x16xf32>
}
)mlir";
  auto kernel = sharedRuntime().compileMlir(text);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  HostBuffers buffers((*kernel)->signature(), FillOptions{});
  std::string e =
      errorOf(referenceAttention((*kernel)->signature(), buffers.args()));
  EXPECT_NE(e.find("cannot evaluate 'arith.bitcast'"), std::string::npos) << e;
}

TEST(Reliability, UnknownOr32BitCpuIsAnError) {
  // Once "LLVM ERROR: 64-bit code requested on a subtarget that doesn't
  // support it" and the process gone.
  CompileOptions o;
  o.cpu = "nonexistent";
  std::string e = errorOf(sharedRuntime().compile(smallSpec(), Target::Cpu, o));
  EXPECT_NE(e.find("unknown CPU 'nonexistent'"), std::string::npos) << e;
  o.cpu = "i386";
  e = errorOf(sharedRuntime().compile(smallSpec(), Target::Cpu, o));
  EXPECT_NE(e.find("CPU 'i386' cannot run 64-bit code"), std::string::npos)
      << e;
}

/// Binds a kernel's buffers with `mutate` applied and returns the error.
std::string aliasError(void (*mutate)(AttentionArgs &)) {
  AttentionSpec s = smallSpec();
  s.numHeads = s.numKvHeads = 1;
  s.queryLen = s.kvLen; // q, k, v, out all [1, 1, 23, 16]
  KernelSignature sig = signatureForSpec(s);
  HostBuffers buffers(sig, FillOptions{});
  AttentionArgs args = buffers.args();
  mutate(args);
  auto bound = bindArguments(sig, args);
  return bound ? std::string("bound") : llvm::toString(bound.takeError());
}

TEST(Reliability, AliasedBuffersAreErrors) {
  EXPECT_EQ(aliasError([](AttentionArgs &a) { a.output.data = a.key.data; }),
            "output overlaps key in memory; output is written by the kernel "
            "and must not alias another buffer");
  EXPECT_EQ(aliasError([](AttentionArgs &a) { a.output.data = a.value.data; }),
            "output overlaps value in memory; output is written by the kernel "
            "and must not alias another buffer");
  // lse starting inside the output's last rows.
  EXPECT_EQ(aliasError([](AttentionArgs &a) {
              a.lse->data = static_cast<float *>(a.output.data) + 200;
            }),
            "output overlaps lse in memory; output is written by the kernel "
            "and must not alias another buffer");
  EXPECT_EQ(aliasError([](AttentionArgs &) {}), "bound");
}

TEST(Reliability, HostBuffersStillCatchStrayWrites) {
  KernelSignature sig = signatureForSpec(smallSpec());
  FillOptions fill;
  fill.rowPadding = 2;
  HostBuffers buffers(sig, fill);
  EXPECT_EQ(buffers.strayWrites(), "");
  // An element of the output is fine; its row padding is not.
  const BufferRef &out = buffers.args().output;
  static_cast<float *>(out.data)[0] = 1.0f;
  EXPECT_EQ(buffers.strayWrites(), "");
  static_cast<float *>(out.data)[16] = 1.0f; // padding after row 0
  EXPECT_EQ(buffers.strayWrites(),
            "the kernel wrote outside the elements of output (byte 66 from "
            "its start)"); // the first byte of 1.0f that differs from NaN
  buffers.resetOutputs();
  EXPECT_EQ(buffers.strayWrites(), "");
  static_cast<float *>(buffers.args().key.data)[5] = 2.0f;
  EXPECT_NE(buffers.strayWrites().find("the kernel wrote into input key"),
            std::string::npos);
}

TEST(Reliability, BufferAndReferenceBytes) {
  AttentionSpec s = smallSpec();
  KernelSignature sig = signatureForSpec(s);
  // q 2*9*16, k and v 23*16, out 2*9*16 elements; lse 18.
  EXPECT_EQ(referenceBytes(sig), 8 * (288 + 368 + 368 + 288 + 18));
  int64_t bytes = HostBuffers::bytesFor(sig, FillOptions{});
  EXPECT_GE(bytes, 4 * (288 + 368 + 368 + 288 + 18));
  EXPECT_LT(bytes, 4 * (288 + 368 + 368 + 288 + 18) + 5 * 1024);
}

} // namespace
