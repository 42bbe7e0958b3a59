//===- BackwardMlirTest.cpp - the backward of MLIR forwards (score_mod) ---===//
//
// Runtime::compileBackwardMlir compiles the backward of a forward written
// as MLIR: its score_mod region differentiated at compile time
// (attn-differentiate-score-mod), its bias (a constant here: no d(bias)
// yet), bool_mask, segment ids and mask_mod. Each case runs the forward on
// fresh random inputs (seed printed; ATTN_TEST_SEED=N reproduces), feeds
// its output and lse with a random dO to the backward, and compares dQ,
// dK, dV with referenceAttentionBackward, which takes the modifier's
// derivative by float64 central differences of the interpreted region
// (nothing shared with the compiler's derivative). Tolerances are
// runtime/CheckBackward.h's (normwise relative): f32 5e-5, f16 3e-3, bf16
// 2e-2; NaN never passes (gradient buffers start as NaN).
//
//===----------------------------------------------------------------------===//
#include "BackwardTestUtils.h"
#include "RuntimeTestUtils.h"
#include "SpecTestUtils.h"

#include "runtime/CheckBackward.h"
#include "runtime/HostBuffers.h"
#include "runtime/ReferenceBackward.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::errorOf;
using attn_test::makeSpec;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

std::string tensorType(llvm::ArrayRef<int64_t> shape, llvm::StringRef elt) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + elt.str() + ">";
}

std::string eltName(ElementType t) {
  return t == ElementType::F16    ? "f16"
         : t == ElementType::BF16 ? "bf16"
                                  : "f32";
}

/// Operands and regions on top of a spec: `args` are more function
/// arguments (", %bias: tensor<...>"), `operands` their operand clauses
/// (" bias(%bias : tensor<...>)"), `maskMod` a mask_mod body (block
/// arguments %b, %h, %i, %j; it yields %keep).
struct Extras {
  std::string args, operands, maskMod;
};

/// One more operand `keyword(%keyword : type)`, a function argument.
Extras withOperand(const std::string &keyword, const std::string &type) {
  Extras x;
  x.args = ", %" + keyword + ": " + type;
  x.operands = " " + keyword + "(%" + keyword + " : " + type + ")";
  return x;
}

/// The forward of `s` (its sizes, dtype, layout, kv_lengths) as MLIR, with
/// lse, `attrs` (e.g. "mask = #attn.mask<causal = true>") and, unless `mod`
/// is empty, a score_mod whose body is `mod` (block arguments %s, %b, %h,
/// %i, %j; it yields %r).
std::string forwardMlir(const AttentionSpec &s, const std::string &mod,
                        std::string attrs = "", const Extras &x = {}) {
  std::string e = eltName(s.dtype);
  std::string q = tensorType(s.queryShape(), e),
              k = tensorType(s.keyShape(), e),
              v = tensorType(s.valueShape(), e),
              o = tensorType(s.outputShape(), e),
              l = tensorType({s.batch, s.numHeads, s.queryLen}, "f32"),
              lens = tensorType({s.batch}, "i32");
  if (s.layout == Layout::BSHD)
    attrs +=
        std::string(attrs.empty() ? "" : ", ") + "layout = #attn.layout<bshd>";
  std::string args = "%q: " + q + ", %k: " + k + ", %v: " + v + x.args;
  std::string lengths;
  if (s.withKvLengths) {
    args += ", %len: " + lens;
    lengths = " kv_lengths(%len : " + lens + ")";
  }
  std::string regions;
  if (!mod.empty())
    regions += " score_mod {\n"
               "  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):" +
               mod + "\n    attn.yield %r : f32\n  }";
  if (!x.maskMod.empty())
    regions += " mask_mod {\n"
               "  ^bb0(%b: index, %h: index, %i: index, %j: index):" +
               x.maskMod + "\n    attn.yield %keep : i1\n  }";
  return "func.func @f(" + args + ") -> (" + o + ", " + l + ") {\n" +
         "  %o, %lse = attn.attention %q, %k, %v" + lengths + x.operands +
         regions + " {" + attrs + "} : " + q + ", " + k + ", " + v + " -> " +
         o + ", " + l + "\n  return %o, %lse : " + o + ", " + l + "\n}\n";
}

/// Compiles the forward and the backward of `text` and checks the
/// gradients against the float64 reference; false on a failure.
bool checkBackward(const std::string &text, std::vector<int32_t> lengths = {}) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed) + "\n" + text);
  auto forward = sharedRuntime().compileMlir(text);
  if (!forward) {
    ADD_FAILURE() << llvm::toString(forward.takeError());
    return false;
  }
  auto backward = sharedRuntime().compileBackwardMlir(text);
  if (!backward) {
    ADD_FAILURE() << llvm::toString(backward.takeError());
    return false;
  }
  const KernelSignature &sig = (*backward)->signature();
  HostBuffers host(sig, {.seed = seed, .rowPadding = 3});
  if (!lengths.empty())
    host.setKvLengths(lengths);
  if (!ok((*forward)->run(forwardArgsOf(host.args()))) ||
      !ok((*backward)->run(host.args())))
    return false;
  return attn_test::gradientsMatchReference(sig, host.args());
}

/// ALiBi: s + slope_h (kv - q), with the per-head slope -(h + 1) / 16.
const char *kAlibi = R"(
    %c16 = arith.constant -6.250000e-02 : f32
    %one = arith.constant 1 : index
    %h1 = arith.addi %h, %one : index
    %hi = arith.index_cast %h1 : index to i64
    %hf = arith.sitofp %hi : i64 to f32
    %slope = arith.mulf %hf, %c16 : f32
    %d = arith.subi %j, %i : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %m = arith.mulf %slope, %df : f32
    %r = arith.addf %s, %m : f32)";

/// Soft-capping written as a region: 5 tanh(s / 5) (a small cap, so that
/// the derivative is far from 1).
const char *kSoftcap = R"(
    %c = arith.constant 5.000000e+00 : f32
    %x = arith.divf %s, %c : f32
    %t = math.tanh %x : f32
    %r = arith.mulf %c, %t : f32)";

/// 3 tanh(s) + s / 2.
const char *kTanh = R"(
    %c3 = arith.constant 3.000000e+00 : f32
    %half = arith.constant 5.000000e-01 : f32
    %t = math.tanh %s : f32
    %a = arith.mulf %t, %c3 : f32
    %b2 = arith.mulf %s, %half : f32
    %r = arith.addf %a, %b2 : f32)";

/// Doubled logits on and below the diagonal, halved-and-shifted above it:
/// a select on an index compare, so the derivative is 2 or 0.5 by pair.
const char *kSelect = R"(
    %two = arith.constant 2.000000e+00 : f32
    %half = arith.constant 5.000000e-01 : f32
    %c = arith.cmpi sle, %j, %i : index
    %x = arith.mulf %s, %two : f32
    %y = arith.mulf %s, %half : f32
    %z = arith.subf %y, %half : f32
    %r = arith.select %c, %x, %z : f32)";

/// A relative decay: s exp(-|kv - q| / 32) (exp of an index, times s).
const char *kDecay = R"(
    %c = arith.constant -3.125000e-02 : f32
    %d = arith.subi %j, %i : index
    %di = arith.index_cast %d : index to i64
    %df = arith.sitofp %di : i64 to f32
    %a = math.absf %df : f32
    %x = arith.mulf %a, %c : f32
    %e = math.exp %x : f32
    %r = arith.mulf %s, %e : f32)";

TEST(BackwardScoreMod, AlibiCausalOddLengths) {
  AttentionSpec s = makeSpec(2, 4, 4, 37, 45, 64);
  checkBackward(
      forwardMlir(s, kAlibi, "mask = #attn.mask<causal = true, q_offset = 8>"));
}

TEST(BackwardScoreMod, SoftcapRegionGqa4) {
  AttentionSpec s = makeSpec(1, 8, 2, 29, 67, 64);
  checkBackward(forwardMlir(s, kSoftcap));
}

/// The region and the softcap attribute are the same function: their
/// gradients agree (both within the tolerance of one reference).
TEST(BackwardScoreMod, SoftcapRegionMatchesAttribute) {
  AttentionSpec s = makeSpec(1, 4, 2, 33, 50, 64);
  s.softcap = 5.0f;
  std::string text = forwardMlir(makeSpec(1, 4, 2, 33, 50, 64), kSoftcap);
  auto region = sharedRuntime().compileBackwardMlir(text);
  ASSERT_TRUE(static_cast<bool>(region)) << llvm::toString(region.takeError());
  auto attribute = sharedRuntime().compileBackward(s);
  ASSERT_TRUE(static_cast<bool>(attribute))
      << llvm::toString(attribute.takeError());
  AttentionSpec fwd = s;
  fwd.returnLse = true;
  auto forward = sharedRuntime().compile(fwd);
  ASSERT_TRUE(static_cast<bool>(forward))
      << llvm::toString(forward.takeError());
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  HostBuffers a(signatureForBackwardSpec(s), {.seed = seed});
  HostBuffers r((*region)->signature(), {.seed = seed});
  ASSERT_TRUE(ok((*forward)->run(forwardArgsOf(a.args()))));
  ASSERT_TRUE(ok((*forward)->run(forwardArgsOf(r.args()))));
  ASSERT_TRUE(ok((*attribute)->run(a.args())));
  ASSERT_TRUE(ok((*region)->run(r.args())));
  auto ref = referenceAttentionBackward(signatureForBackwardSpec(s), a.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  for (HostBuffers *h : {&a, &r}) {
    GradientReport rep = checkGradients(signatureForBackwardSpec(s), h->args(),
                                        *ref, gradientToleranceFor(DType::F32));
    EXPECT_TRUE(rep.passed) << rep.summary();
  }
}

TEST(BackwardScoreMod, TanhMqa7) {
  AttentionSpec s = makeSpec(2, 7, 1, 19, 41, 64);
  checkBackward(forwardMlir(s, kTanh));
}

TEST(BackwardScoreMod, SelectOnIndexBshd) {
  AttentionSpec s =
      makeSpec(2, 4, 2, 43, 43, 64, ElementType::F32, Layout::BSHD);
  checkBackward(forwardMlir(s, kSelect));
}

TEST(BackwardScoreMod, DecayWithSoftcapAttributeWindow) {
  // score_mod, then the softcap attribute, then the mask: both derivatives
  // chain.
  AttentionSpec s = makeSpec(1, 4, 4, 70, 90, 80);
  checkBackward(forwardMlir(
      s, kDecay,
      "mask = #attn.mask<causal = true, window_left = 30, q_offset = 20>, "
      "softcap = 3.0 : f32"));
}

TEST(BackwardScoreMod, AlibiRaggedLengths) {
  AttentionSpec s = makeSpec(3, 4, 2, 21, 50, 64);
  s.withKvLengths = true;
  checkBackward(forwardMlir(s, kAlibi), {50, 0, 17});
}

TEST(BackwardScoreMod, F16AndBf16) {
  for (ElementType t : {ElementType::F16, ElementType::BF16}) {
    checkBackward(forwardMlir(makeSpec(1, 8, 2, 61, 61, 64, t), kAlibi,
                              "mask = #attn.mask<causal = true>"));
    checkBackward(forwardMlir(makeSpec(2, 7, 1, 33, 47, 64, t), kSoftcap));
    checkBackward(forwardMlir(makeSpec(1, 4, 4, 40, 53, 96, t), kSelect));
  }
}

/// bias, bool_mask, segment ids and mask_mod operands of the forward (the
/// bias as a constant: no d(bias) yet).
TEST(BackwardMlirOperands, BroadcastBiasCausal) {
  AttentionSpec s = makeSpec(2, 4, 2, 37, 45, 64);
  std::string bt = tensorType({1, 1, 37, 45}, "f32");
  checkBackward(forwardMlir(s, "", "mask = #attn.mask<causal = true>",
                            withOperand("bias", bt)));
}

TEST(BackwardMlirOperands, MasksSegmentsMaskModWithScoreMod) {
  AttentionSpec s = makeSpec(2, 8, 2, 29, 53, 64);
  std::string mt = tensorType({2, 1, 29, 53}, "i1"),
              qs = tensorType({2, 29}, "i32"), ks = tensorType({2, 53}, "i32");
  Extras x;
  x.args = ", %bm: " + mt + ", %qs: " + qs + ", %ks: " + ks;
  x.operands = " bool_mask(%bm : " + mt + ") segment_ids(%qs, %ks : " + qs +
               ", " + ks + ")";
  // Keys that are not multiples of 7 (with a mask that has holes).
  x.maskMod = R"(
    %c7 = arith.constant 7 : index
    %c0 = arith.constant 0 : index
    %r7 = arith.remui %j, %c7 : index
    %keep = arith.cmpi ne, %r7, %c0 : index)";
  checkBackward(forwardMlir(s, kAlibi, "", x));
}

TEST(BackwardMlirOperands, FullBiasSoftcapRegionBf16) {
  AttentionSpec s = makeSpec(1, 4, 4, 40, 70, 64, ElementType::BF16);
  std::string bt = tensorType({1, 4, 40, 70}, "bf16");
  checkBackward(forwardMlir(s, kSoftcap, "mask = #attn.mask<causal = true>",
                            withOperand("bias", bt)));
}

TEST(BackwardScoreModErrors, NotDifferentiable) {
  AttentionSpec s = makeSpec(1, 4, 2, 17, 23, 64);
  std::string err = errorOf(sharedRuntime().compileBackwardMlir(
      forwardMlir(s, "    %r = math.cbrt %s : f32")));
  EXPECT_NE(err.find("cannot differentiate 'math.cbrt' with respect to the "
                     "score"),
            std::string::npos)
      << err;
}

TEST(BackwardScoreModErrors, Refused) {
  AttentionSpec s = makeSpec(1, 4, 2, 17, 23, 64);
  std::string text = forwardMlir(s, kTanh);
  // The GPU backward takes no regions yet.
  EXPECT_NE(errorOf(sharedRuntime().compileBackwardMlir(text, Target::Cuda))
                .find("a score_mod region has no GPU backward yet"),
            std::string::npos);
  EXPECT_NE(errorOf(sharedRuntime().compileBackwardMlir("func.func @f() {"))
                .find("malformed MLIR input"),
            std::string::npos);
  // An operand the backward does not take yet.
  std::string st = tensorType({4}, "f32");
  std::string sinks = forwardMlir(s, kTanh, "", withOperand("sinks", st));
  EXPECT_NE(errorOf(sharedRuntime().compileBackwardMlir(sinks))
                .find("attention sinks have no backward yet"),
            std::string::npos);
}

} // namespace
