//===- RaiseNumericsTest.cpp - raised naive attention vs float64 ----------===//
//
// Naive attention written in linalg (as the seeds write it in PyTorch) is
// raised by attn-raise-attention; the one attn.attention it becomes is
// compiled by Runtime::compileMlir and run on random inputs with odd sizes
// (S not a multiple of 64, D = 40). Its output must equal a float64
// evaluation of the *naive* formula on the same inputs.
//
// The raised op's operands may be unit-dim or head-split reshapes of the
// function's arguments (seed 002's rank-3 bmm gets [B, 1, S, D]); such
// reshapes of contiguous tensors are the same bytes, so the kernel is
// compiled for the op alone (its operand types become the arguments) and
// fed the naive function's buffers as they are.
//
// Tolerance (f32 in, f32 kernel, float64 reference, N(0, 1) inputs):
// |out - ref| <= 2e-5 + 2e-4 |ref|.
//
//===----------------------------------------------------------------------===//
#include "RuntimeTestUtils.h"

#include "dialect/AttnOps.h"
#include "passes/Passes.h"
#include "runtime/KernelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <cmath>
#include <limits>
#include <random>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;
using attn_test::sharedRuntime;
using attn_test::testSeed;

namespace {

/// Raises `naive` and returns the text of a function holding only the
/// raised op, its operands as arguments; empty (with a test failure) when
/// nothing or more than one op was raised.
std::string raiseToKernelText(llvm::StringRef naive, std::string &form) {
  DialectRegistry registry;
  registerRuntimeDialects(registry);
  MLIRContext ctx(registry);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(naive, &ctx);
  if (!module) {
    ADD_FAILURE() << "naive input does not parse";
    return "";
  }
  PassManager pm(&ctx);
  pm.addNestedPass<func::FuncOp>(createAttnRaiseAttention());
  if (failed(pm.run(*module))) {
    ADD_FAILURE() << "attn-raise-attention failed";
    return "";
  }
  SmallVector<AttentionOp> ops;
  module->walk([&](AttentionOp op) { ops.push_back(op); });
  if (ops.size() != 1) {
    ADD_FAILURE() << ops.size() << " attn.attention ops after raising";
    return "";
  }
  AttentionOp op = ops.front();
  form = cast<StringAttr>(op->getAttr("attn.raised")).str();
  OutlinedOp kernel = outlineIntoFunc(op, "raised");
  std::string text;
  llvm::raw_string_ostream os(text);
  kernel.module->print(os);
  return text;
}

std::vector<float> randomVector(size_t n, std::mt19937_64 &rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// The naive computation in float64: per (batch, query head) with K/V head
/// `h / group`, s = scale * q·k, s = -inf where masked(i, j), softmax over
/// keys, then P·V. Tensors are [B, H, S, D] row-major.
std::vector<double>
naiveReference(const std::vector<float> &q, const std::vector<float> &k,
               const std::vector<float> &v, int64_t b, int64_t hq, int64_t hkv,
               int64_t sq, int64_t skv, int64_t d, double scale,
               const std::function<bool(int64_t, int64_t)> &masked) {
  std::vector<double> out(b * hq * sq * d, 0.0);
  std::vector<double> s(skv);
  int64_t group = hq / hkv;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h) {
      const float *qh = &q[((bi * hq + h) * sq) * d];
      const float *kh = &k[((bi * hkv + h / group) * skv) * d];
      const float *vh = &v[((bi * hkv + h / group) * skv) * d];
      for (int64_t i = 0; i < sq; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < skv; ++j) {
          double dot = 0;
          for (int64_t x = 0; x < d; ++x)
            dot += double(qh[i * d + x]) * double(kh[j * d + x]);
          s[j] = masked(i, j) ? -std::numeric_limits<double>::infinity()
                              : dot * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < skv; ++j)
          sum += (s[j] = std::exp(s[j] - mx));
        double *o = &out[((bi * hq + h) * sq + i) * d];
        for (int64_t j = 0; j < skv; ++j)
          for (int64_t x = 0; x < d; ++x)
            o[x] += s[j] / sum * double(vh[j * d + x]);
      }
    }
  return out;
}

struct Problem {
  int64_t b, hq, hkv, sq, skv, d;
  double scale;
  std::function<bool(int64_t, int64_t)> masked;
};

/// Raises `naive`, runs the raised kernel and compares with the float64
/// naive reference for `p`.
void checkRaised(llvm::StringRef naive, const Problem &p,
                 llvm::StringRef expectForm) {
  std::string form;
  std::string text = raiseToKernelText(naive, form);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(form, expectForm.str());
  auto kernel = sharedRuntime().compileMlir(text);
  ASSERT_TRUE(static_cast<bool>(kernel))
      << llvm::toString(kernel.takeError()) << "\n"
      << text;
  uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with ATTN_TEST_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  std::vector<float> q = randomVector(p.b * p.hq * p.sq * p.d, rng);
  std::vector<float> k = randomVector(p.b * p.hkv * p.skv * p.d, rng);
  std::vector<float> v = randomVector(p.b * p.hkv * p.skv * p.d, rng);
  std::vector<float> out(q.size(), std::nanf(""));
  const KernelSignature &sig = (*kernel)->signature();
  auto shapeOf = [&](ArgRole role) {
    for (const ArgInfo &a : sig.args)
      if (a.role == role)
        return a.shape;
    return llvm::SmallVector<int64_t, 4>{};
  };
  AttentionArgs args;
  args.query =
      BufferRef::contiguous(q.data(), DType::F32, shapeOf(ArgRole::Query));
  args.key = BufferRef::contiguous(k.data(), DType::F32, shapeOf(ArgRole::Key));
  args.value =
      BufferRef::contiguous(v.data(), DType::F32, shapeOf(ArgRole::Value));
  args.output =
      BufferRef::contiguous(out.data(), DType::F32, shapeOf(ArgRole::Output));
  ASSERT_TRUE(ok((*kernel)->run(args)));
  std::vector<double> ref = naiveReference(q, k, v, p.b, p.hq, p.hkv, p.sq,
                                           p.skv, p.d, p.scale, p.masked);
  double worst = 0;
  int64_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double err = std::abs(double(out[i]) - ref[i]);
    worst = std::max(worst, err);
    if (!(err <= 2e-5 + 2e-4 * std::abs(ref[i])))
      ++bad;
  }
  EXPECT_EQ(bad, 0) << "max abs error " << worst;
}

} // namespace

/// The indexing maps of the 4-D naive tests: Q·Kᵀ over (b, h, i, j, d),
/// P·V over (b, h, i, d, j), elementwise #id.
static constexpr const char *kMaps4d = R"mlir(
#q = affine_map<(b, h, i, j, d) -> (b, h, i, d)>
#k = affine_map<(b, h, i, j, d) -> (b, h, j, d)>
#s = affine_map<(b, h, i, j, d) -> (b, h, i, j)>
#p = affine_map<(b, h, i, d, j) -> (b, h, i, j)>
#v = affine_map<(b, h, i, d, j) -> (b, h, j, d)>
#o = affine_map<(b, h, i, d, j) -> (b, h, i, d)>
#id = affine_map<(b, h, i, j) -> (b, h, i, j)>
)mlir";

/// `%res = lhs · rhs` over the innermost loop (maps "#q, #k, #s" for the
/// scores, "#p, #v, #o" for P·V) into a zero-filled `outT`; its empty
/// tensor is `%<res>_e` (the scores' is reused by the tests' softmax).
static std::string contraction(llvm::StringRef res, llvm::StringRef maps,
                               llvm::StringRef lhs, llvm::StringRef rhs,
                               llvm::StringRef lhsT, llvm::StringRef rhsT,
                               llvm::StringRef outT) {
  std::string r = res.str(), o = outT.str();
  return "  %" + r + "_e = tensor.empty() : " + o + "\n  %" + r +
         "_z = linalg.fill ins(%zero : f32) outs(%" + r + "_e : " + o +
         ") -> " + o + "\n  %" + r + " = linalg.generic {indexing_maps = [" +
         maps.str() +
         "], iterator_types = [\"parallel\", \"parallel\", \"parallel\", "
         "\"parallel\", \"reduction\"]}\n      ins(%" +
         lhs.str() + ", %" + rhs.str() + " : " + lhsT.str() + ", " +
         rhsT.str() + ") outs(%" + r + "_z : " + o + R"mlir() {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> )mlir" +
         o + "\n";
}

/// Seed 002's ScaledDotProductAttention as front ends emit it, B = 3,
/// S = 77, D = 40: torch.bmm(q, k.transpose(1, 2)) / sqrt(dim), the scores
/// masked by masked_fill where `maskLines` (linalg.index %i, %j in scope)
/// set %future, softmax, bmm with v.
static std::string seed002Sdpa(llvm::StringRef maskLines) {
  return std::string(R"mlir(
func.func @sdpa(%q: tensor<3x77x40xf32>, %k: tensor<3x77x40xf32>,
                %v: tensor<3x77x40xf32>) -> tensor<3x77x40xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %sqrt = arith.constant 6.32455532 : f32
  %kte = tensor.empty() : tensor<3x40x77xf32>
  %kt = linalg.transpose ins(%k : tensor<3x77x40xf32>)
      outs(%kte : tensor<3x40x77xf32>) permutation = [0, 2, 1]
  %se = tensor.empty() : tensor<3x77x77xf32>
  %sz = linalg.fill ins(%zero : f32) outs(%se : tensor<3x77x77xf32>) -> tensor<3x77x77xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<3x77x40xf32>, tensor<3x40x77xf32>)
      outs(%sz : tensor<3x77x77xf32>) -> tensor<3x77x77xf32>
  %ms = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i, j)>],
                        iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s : tensor<3x77x77xf32>) outs(%se : tensor<3x77x77xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
)mlir") + maskLines.str() +
         R"mlir(    %d = arith.divf %a, %sqrt : f32
    %y = arith.select %future, %ninf, %d : f32
    linalg.yield %y : f32
  } -> tensor<3x77x77xf32>
  %p = linalg.softmax dimension(2) ins(%ms : tensor<3x77x77xf32>)
      outs(%se : tensor<3x77x77xf32>) -> tensor<3x77x77xf32>
  %oe = tensor.empty() : tensor<3x77x40xf32>
  %oz = linalg.fill ins(%zero : f32) outs(%oe : tensor<3x77x40xf32>) -> tensor<3x77x40xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<3x77x77xf32>, tensor<3x77x40xf32>)
      outs(%oz : tensor<3x77x40xf32>) -> tensor<3x77x40xf32>
  return %o : tensor<3x77x40xf32>
}
)mlir";
}

// Seed 002 with its causal mask by masked_fill (iota/compare + select).
TEST(RaiseNumerics, Seed002CausalBmm) {
  checkRaised(seed002Sdpa(R"mlir(
    %future = arith.cmpi ugt, %j, %i : index
)mlir"),
              {3, 1, 1, 77, 77, 40, 1.0 / std::sqrt(40.0),
               [](int64_t i, int64_t j) { return j > i; }},
              "linalg.softmax");
}

// The same with a causal sliding window of 9 keys behind the query
// (Longformer-style, seed 002's text): raised to window_left = 9.
TEST(RaiseNumerics, Seed002SlidingWindowBmm) {
  checkRaised(seed002Sdpa(R"mlir(
    %ahead = arith.cmpi ugt, %j, %i : index
    %dist = arith.subi %i, %j : index
    %c9 = arith.constant 9 : index
    %far = arith.cmpi sgt, %dist, %c9 : index
    %future = arith.ori %ahead, %far : i1
)mlir"),
              {3, 1, 1, 77, 77, 40, 1.0 / std::sqrt(40.0),
               [](int64_t i, int64_t j) { return j > i || i - j > 9; }},
              "linalg.softmax");
}

// GQA (seeds 000/001): 8 query heads, 2 K/V heads repeated with
// repeat_interleave (broadcast + merge), scale folded into Q, an added
// -inf upper triangle, the stable max/sub/exp/sum/div softmax as named ops.
// B = 2, Sq = 45, Skv = 100, D = 40.
TEST(RaiseNumerics, GqaRepeatInterleaveCausal) {
  std::string naive = std::string(kMaps4d) + R"mlir(
#ij = affine_map<(b, h, i, j) -> (i, j)>
!qt = tensor<2x8x45x40xf32>
!kv = tensor<2x2x100x40xf32>
!k5 = tensor<2x2x4x100x40xf32>
!kt = tensor<2x8x100x40xf32>
!st = tensor<2x8x45x100xf32>
!rt = tensor<2x8x45xf32>
func.func @gqa(%q: !qt, %k: !kv, %v: !kv) -> !qt {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.158113883 : f32
  %qe = tensor.empty() : !qt
  %qs = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%q : !qt) outs(%qe : !qt) {
  ^bb0(%a: f32, %o: f32):
    %y = arith.mulf %a, %c : f32
    linalg.yield %y : f32
  } -> !qt
  %ke = tensor.empty() : !k5
  %kb = linalg.broadcast ins(%k : !kv) outs(%ke : !k5) dimensions = [2]
  %kr = tensor.collapse_shape %kb [[0], [1, 2], [3], [4]] : !k5 into !kt
  %vb = linalg.broadcast ins(%v : !kv) outs(%ke : !k5) dimensions = [2]
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : !k5 into !kt
)mlir" + contraction("s", "#q, #k, #s", "qs", "kr", "!qt", "!kt", "!st") +
                      R"mlir(
  %te = tensor.empty() : tensor<45x100xf32>
  %tri = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      outs(%te : tensor<45x100xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %up = arith.cmpi ugt, %j, %i : index
    %y = arith.select %up, %ninf, %zero : f32
    linalg.yield %y : f32
  } -> tensor<45x100xf32>
  %ms = linalg.generic {indexing_maps = [#id, #ij, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s, %tri : !st, tensor<45x100xf32>) outs(%s_e : !st) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %y = arith.addf %a, %t : f32
    linalg.yield %y : f32
  } -> !st
  %re = tensor.empty() : !rt
  %mi = linalg.fill ins(%ninf : f32) outs(%re : !rt) -> !rt
  %mx = linalg.reduce ins(%ms : !st) outs(%mi : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.maximumf %in, %init : f32
      linalg.yield %x : f32
    }
  %mb = linalg.broadcast ins(%mx : !rt) outs(%s_e : !st) dimensions = [3]
  %d = linalg.sub ins(%ms, %mb : !st, !st) outs(%s_e : !st) -> !st
  %e = linalg.exp ins(%d : !st) outs(%s_e : !st) -> !st
  %si = linalg.fill ins(%zero : f32) outs(%re : !rt) -> !rt
  %sum = linalg.reduce ins(%e : !st) outs(%si : !rt) dimensions = [3]
    (%in: f32, %init: f32) {
      %x = arith.addf %in, %init : f32
      linalg.yield %x : f32
    }
  %sb = linalg.broadcast ins(%sum : !rt) outs(%s_e : !st) dimensions = [3]
  %pr = linalg.div ins(%e, %sb : !st, !st) outs(%s_e : !st) -> !st
)mlir" + contraction("out", "#p, #v, #o", "pr", "vr", "!st", "!kt", "!qt") +
                      "  return %out : !qt\n}\n";
  checkRaised(naive,
              {2, 8, 2, 45, 100, 40, 0.158113883,
               [](int64_t i, int64_t j) { return j > i; }},
              "max/exp/sum");
}

// Seed 004 at batch 1 (torch.onnx.export's Split + Squeeze of QKV): Q, K
// and V are [1, 1, H, S, D] collapsed to [1, H, S, D] by a reshape that
// groups the unit batch with the heads ({0}, {1, 2}); it merges nothing,
// so it must not be read as K/V head repetition (attn-raise-attention
// left this attention unraised). H = 8, S = 45, D = 40, causal.
TEST(RaiseNumerics, UnitBatchSqueezedWithHeads) {
  std::string naive = std::string(kMaps4d) + R"mlir(
!h5 = tensor<1x1x8x45x40xf32>
!h = tensor<1x8x45x40xf32>
!st = tensor<1x8x45x45xf32>
func.func @squeezed(%q5: !h5, %k5: !h5, %v5: !h5) -> !h {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.158113883 : f32
  %q = tensor.collapse_shape %q5 [[0], [1, 2], [3], [4]] : !h5 into !h
  %k = tensor.collapse_shape %k5 [[0], [1, 2], [3], [4]] : !h5 into !h
  %v = tensor.collapse_shape %v5 [[0], [1, 2], [3], [4]] : !h5 into !h
)mlir" + contraction("s", "#q, #k, #s", "q", "k", "!h", "!h", "!st") +
                      R"mlir(
  %ms = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : !st) outs(%s_e : !st) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 2 : index
    %j = linalg.index 3 : index
    %up = arith.cmpi ugt, %j, %i : index
    %y = arith.select %up, %ninf, %a : f32
    %z = arith.mulf %y, %c : f32
    linalg.yield %z : f32
  } -> !st
  %pr = linalg.softmax dimension(3) ins(%ms : !st) outs(%s_e : !st) -> !st
)mlir" + contraction("out", "#p, #v, #o", "pr", "v", "!st", "!h", "!h") +
                      "  return %out : !h\n}\n";
  checkRaised(naive,
              {1, 8, 8, 45, 45, 40, 0.158113883,
               [](int64_t i, int64_t j) { return j > i; }},
              "linalg.softmax");
}
