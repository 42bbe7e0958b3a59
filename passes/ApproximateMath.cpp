//===- ApproximateMath.cpp - vectorizable exp/log/tanh --------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNAPPROXIMATEMATH
#include "passes/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct ApproximateMathPass
    : attn::impl::AttnApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    // The inverse hyperbolics have neither an LLVM intrinsic nor a libm
    // lowering in math-to-llvm: rewrite them with log/sqrt first, so the
    // approximations below see those.
    RewritePatternSet expansions(&getContext());
    math::populateExpansionPatterns(expansions, {"acosh", "asinh", "atanh"});
    if (failed(applyPatternsGreedily(getOperation(), std::move(expansions))))
      return signalPassFailure();
    // exp/log/tanh for speed (they vectorize); cbrt/erf/erfc because LLVM
    // has no intrinsic for them and a score_mod may use them.
    RewritePatternSet patterns(&getContext());
    auto wanted = [](StringRef name) {
      return name == "math.exp" || name == "math.log" || name == "math.tanh" ||
             name == "math.cbrt" || name == "math.erf" || name == "math.erfc";
    };
    populateMathF32ExpansionPatterns(patterns, wanted);
    populateMathPolynomialApproximationPatterns(patterns, wanted);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
