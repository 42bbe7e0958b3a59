//===- RuntimeExpAccuracyTest.cpp - the kernels' polynomial exp -----------===//
//
// attn-approximate-math replaces math.exp with MLIR's polynomial
// approximation so that softmax vectorises. The kernels only evaluate exp
// on s - max <= 0, and f32 exp underflows below -87.3, so [-87, 0] is the
// range that matters. This JITs a vector exp through that same pass and
// measures the relative error against double-precision exp.
//
//===----------------------------------------------------------------------===//
#include "RuntimeJitTest.h"
#include "RuntimeTestUtils.h"

#include "passes/Passes.h"
#include "passes/SoftmaxExp.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <iostream>
#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;

namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kItems = 1 << 16; // 2^20 points

/// y = exp(x) on vectors of 16, one vector per work item.
std::string expKernel() {
  std::string n = std::to_string(kLanes * kItems);
  std::string mem = "memref<" + n + "xf32>";
  return R"mlir(
func.func @attention(%x: )mlir" +
         mem + R"mlir(, %y: )mlir" + mem + R"mlir(,
                     %begin: index, %end: index)
    attributes {llvm.emit_c_interface} {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  scf.for %w = %begin to %end step %c1 {
    %i = arith.muli %w, %c16 : index
    %v = vector.load %x[%i] : )mlir" +
         mem + R"mlir(, vector<16xf32>
    %e = math.exp %v : vector<16xf32>
    vector.store %e, %y[%i] : )mlir" +
         mem + R"mlir(, vector<16xf32>
  }
  return
}
func.func @attention_work_items() -> index
    attributes {llvm.emit_c_interface} {
  %n = arith.constant )mlir" +
         std::to_string(kItems) + R"mlir( : index
  return %n : index
}
)mlir";
}

TEST(ExpAccuracy, PolynomialExpOnSoftmaxRange) {
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(expKernel(), ctx.get());
  ASSERT_TRUE(module);

  // The pass under test, alone first, to see that it replaced math.exp.
  PassManager approximate(ctx.get());
  approximate.addNestedPass<func::FuncOp>(createAttnApproximateMath());
  ASSERT_TRUE(succeeded(approximate.run(*module)));
  int exps = 0;
  module->walk([&](math::ExpOp) { ++exps; });
  EXPECT_EQ(exps, 0) << "attn-approximate-math left math.exp in place";

  KernelSignature sig;
  sig.args = {
      attn_test::vectorArg(ArgRole::Query, kLanes * kItems, true, false),
      attn_test::vectorArg(ArgRole::Output, kLanes * kItems, true, true)};
  Runtime runtime;
  auto kernel =
      runtime.compileModule(*module, sig, attn_test::lowerWithUpstreamPasses);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());

  // An even sweep of [-87, 0] plus points near 0 and range-reduction
  // boundaries (multiples of ln 2).
  int64_t n = kLanes * kItems;
  std::vector<float> x(n), y(n);
  int64_t special = 4096;
  for (int64_t i = 0; i < n - special; ++i)
    x[i] = float(-87.0 * double(i) / double(n - special - 1));
  for (int64_t i = 0; i < special; ++i) {
    double k = std::floor(double(i) / 4);
    double offsets[] = {0, 1e-6, -1e-6, 0.5};
    x[n - special + i] =
        std::max(-87.0f, float(-k * std::log(2.0) + offsets[i % 4]));
  }
  x[n - 1] = -1e-30f;
  x[n - 2] = -0.0f;
  AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {n});
  args.output = BufferRef::contiguous(y.data(), DType::F32, {n});
  ASSERT_TRUE(ok((*kernel)->run(args)));

  double maxRel = 0;
  float worstX = 0;
  for (int64_t i = 0; i < n; ++i) {
    double want = std::exp(double(x[i]));
    ASSERT_TRUE(std::isfinite(y[i])) << "exp(" << x[i] << ") = " << y[i];
    double rel = std::abs(double(y[i]) - want) / want;
    if (rel > maxRel)
      maxRel = rel, worstX = x[i];
  }
  // Measured 8.2e-8 (about one f32 ulp, 6e-8..1.2e-7) with MLIR 22 on an
  // AVX-512 Zen 4; the bound leaves room for hosts without FMA.
  RecordProperty("max_rel_error", std::to_string(maxRel));
  EXPECT_LT(maxRel, 2.5e-7) << "worst at x = " << worstX;
  std::cout << "polynomial exp on [-87, 0]: max rel error " << maxRel
            << " at x = " << worstX << "\n";
}

/// The online softmax's AVX-512 exp (passes/SoftmaxExp.h, what
/// attn-vectorize-tiles emits at vector width 16): the same kernel with
/// each math.exp replaced by emitNonPositiveExp, on [-87.3, 0] against
/// double exp, and exactly 0 below -87.3 (-inf included), NaN for NaN.
TEST(ExpAccuracy, SoftmaxExpOnSoftmaxRange) {
  auto ctx = attn_test::jitTestContext();
  ctx->loadDialect<LLVM::LLVMDialect>();
  auto module = parseSourceString<ModuleOp>(expKernel(), ctx.get());
  ASSERT_TRUE(module);
  SmallVector<math::ExpOp> exps;
  module->walk([&](math::ExpOp op) { exps.push_back(op); });
  ASSERT_EQ(exps.size(), 1u);
  for (math::ExpOp op : exps) {
    OpBuilder b(op);
    op.replaceAllUsesWith(emitNonPositiveExp(b, op.getLoc(), op.getOperand()));
    op.erase();
  }

  KernelSignature sig;
  sig.args = {
      attn_test::vectorArg(ArgRole::Query, kLanes * kItems, true, false),
      attn_test::vectorArg(ArgRole::Output, kLanes * kItems, true, true)};
  Runtime runtime;
  auto kernel =
      runtime.compileModule(*module, sig, attn_test::lowerWithUpstreamPasses);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());

  int64_t n = kLanes * kItems;
  std::vector<float> x(n), y(n);
  // The edges and specials first, then an even sweep of [-87.3, 0], then
  // the range-reduction boundaries (multiples of ln 2, and ± 1e-6, + 0.5).
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> zeros = {-inf,     -1e30f,   -1e6f,
                              -1000.0f, -104.0f,  -88.0f,
                              -87.34f,  -87.301f, std::nextafter(-87.3f, -inf)};
  std::vector<float> specials = {
      nan, -0.0f, 0.0f, -1e-30f, -1e-7f, -87.3f, std::nextafter(-87.3f, 0.0f)};
  int64_t at = 0;
  for (float v : zeros)
    x[at++] = v;
  for (float v : specials)
    x[at++] = v;
  int64_t boundaries = 4 * 126, sweepEnd = n - boundaries;
  for (int64_t i = at; i < sweepEnd; ++i)
    x[i] = float(-87.3 * double(i - at) / double(sweepEnd - at - 1));
  for (int64_t i = 0; i < boundaries; ++i) {
    double k = std::floor(double(i) / 4);
    double offsets[] = {0, 1e-6, -1e-6, 0.5};
    x[sweepEnd + i] =
        std::max(-87.3f, float(-k * std::log(2.0) + offsets[i % 4]));
  }
  AttentionArgs args;
  args.query = BufferRef::contiguous(x.data(), DType::F32, {n});
  args.output = BufferRef::contiguous(y.data(), DType::F32, {n});
  ASSERT_TRUE(ok((*kernel)->run(args)));

  for (size_t i = 0; i < zeros.size(); ++i)
    EXPECT_EQ(y[i], 0.0f) << "exp(" << x[i] << ") must be exactly 0";
  EXPECT_TRUE(std::isnan(y[zeros.size()])) << "exp(NaN) = " << y[zeros.size()];
  EXPECT_EQ(y[zeros.size() + 1], 1.0f) << "exp(-0)";
  EXPECT_EQ(y[zeros.size() + 2], 1.0f) << "exp(0)";
  double maxRel = 0;
  float worstX = 0;
  for (int64_t i = zeros.size() + 1; i < n; ++i) {
    double want = std::exp(double(x[i]));
    ASSERT_TRUE(std::isfinite(y[i])) << "exp(" << x[i] << ") = " << y[i];
    ASSERT_GE(y[i], std::numeric_limits<float>::min())
        << "exp(" << x[i] << ") must be a normal float, got " << y[i];
    double rel = std::abs(double(y[i]) - want) / want;
    if (rel > maxRel)
      maxRel = rel, worstX = x[i];
  }
  // Measured 8.8e-8 (the float64 simulation of the same steps: 1.04 ulp);
  // the bound is the MLIR exp's.
  RecordProperty("max_rel_error", std::to_string(maxRel));
  EXPECT_LT(maxRel, 2.5e-7) << "worst at x = " << worstX;
  std::cout << "softmax exp on [-87.3, 0]: max rel error " << maxRel
            << " at x = " << worstX << "\n";
}

} // namespace
