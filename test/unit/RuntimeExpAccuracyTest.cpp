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

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>
#include <iostream>

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

} // namespace
