//===- TileMatmulTest.cpp - attn-tile-matmul against float64 --------------===//
//
// A hand-written kernel holding one f32 linalg.matmul (C = ½, C += A·B),
// lowered by attn-tile-matmul + attn-vectorize-tiles (the model
// pipeline's blocking of projections) and JIT-run, against a float64
// product: sizes with tail row, column and K blocks, a column strip past
// the last whole vector, and one smaller than every block. The work-item
// form (attn-tile-matmul{work-items} + attn-parallel-to-runtime, the CPU
// pipeline's) with B as an nn.Linear weight [N, K] and a bias row as C's
// init: tails in every dimension (row groups, column panels, slivers, row
// blocks, K chunks, the strip, K steps past the unrolled micro-kernel
// loop), on 1, 2 and 3 threads with bit-identical
// results (each element is computed by one item in a fixed order).
//
//===----------------------------------------------------------------------===//
#include "RuntimeJitTest.h"
#include "RuntimeTestUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using attn_test::ok;

namespace {

struct Shape {
  int64_t m, k, n;
};

std::string kernelText(Shape s) {
  auto ty = [](int64_t r, int64_t c) {
    return "memref<" + std::to_string(r) + "x" + std::to_string(c) + "xf32>";
  };
  std::string a = ty(s.m, s.k), b = ty(s.k, s.n), c = ty(s.m, s.n);
  return "func.func @attention(%a: " + a + ", %b: " + b + ", %c: " + c +
         R"(, %begin: index, %end: index) attributes {llvm.emit_c_interface} {
  %half = arith.constant 0.5 : f32
  linalg.fill ins(%half : f32) outs(%c : )" +
         c + R"()
  linalg.matmul ins(%a, %b : )" +
         a + ", " + b + ") outs(%c : " + c + R"()
  return
}
func.func @attention_work_items() -> index attributes {llvm.emit_c_interface} {
  %n = arith.constant 1 : index
  return %n : index
})";
}

class TileMatmul : public ::testing::TestWithParam<Shape> {};

TEST_P(TileMatmul, MatchesFloat64) {
  Shape s = GetParam();
  auto ctx = attn_test::jitTestContext();
  auto module = parseSourceString<ModuleOp>(kernelText(s), ctx.get());
  ASSERT_TRUE(module);
  KernelSignature sig;
  sig.args = {{ArgRole::Query, DType::F32, {s.m, s.k}, true, false},
              {ArgRole::Key, DType::F32, {s.k, s.n}, true, false},
              {ArgRole::Output, DType::F32, {s.m, s.n}, true, true}};
  Runtime runtime(RuntimeOptions{1});
  auto kernel = runtime.compileModule(*module, sig, [&](OpPassManager &pm) {
    OpPassManager &f = pm.nest<func::FuncOp>();
    f.addPass(createAttnTileMatmul({/*vectorWidth=*/16, /*rowBlock=*/32,
                                    /*colBlock=*/32, /*depthBlock=*/16}));
    f.addPass(createAttnVectorizeTiles({16, 8}));
    f.addPass(createConvertLinalgToLoopsPass());
    attn_test::lowerWithUpstreamPasses(pm);
  });
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  std::mt19937_64 rng(s.m * 1000003 + s.k * 1009 + s.n);
  std::normal_distribution<float> nd;
  std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n, NAN);
  for (float &x : a)
    x = nd(rng);
  for (float &x : b)
    x = nd(rng);
  AttentionArgs args;
  args.query = BufferRef::contiguous(a.data(), DType::F32, {s.m, s.k});
  args.key = BufferRef::contiguous(b.data(), DType::F32, {s.k, s.n});
  args.output = BufferRef::contiguous(c.data(), DType::F32, {s.m, s.n});
  ASSERT_TRUE(ok((*kernel)->run(args)));
  // f32 accumulation over K terms: |err| <= 1e-5 · sum |a||b| (+ a floor).
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double ref = 0.5, mag = 0; // the init: matmul adds to it
      for (int64_t r = 0; r < s.k; ++r) {
        ref += double(a[i * s.k + r]) * b[r * s.n + j];
        mag += std::fabs(double(a[i * s.k + r]) * b[r * s.n + j]);
      }
      double got = c[i * s.n + j]; // NaN fails the comparison
      ASSERT_TRUE(std::fabs(got - ref) <= 1e-6 + 1e-5 * mag)
          << "C[" << i << ", " << j << "] = " << got << ", float64 " << ref;
    }
}

/// C = bias (broadcast over rows), C += A·Wᵀ with W [N, K]: no range
/// arguments, attn-parallel-to-runtime makes the items.
std::string linearKernelText(Shape s) {
  auto ty = [](int64_t r, int64_t c) {
    return "memref<" + std::to_string(r) + "x" + std::to_string(c) + "xf32>";
  };
  std::string a = ty(s.m, s.k), w = ty(s.n, s.k), c = ty(s.m, s.n),
              bias = "memref<" + std::to_string(s.n) + "xf32>";
  return "func.func @attention(%a: " + a + ", %w: " + w + ", %bias: " + bias +
         ", %c: " + c + R"() attributes {llvm.emit_c_interface} {
  linalg.broadcast ins(%bias : )" +
         bias + ") outs(%c : " + c + R"() dimensions = [0]
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                 affine_map<(m, n, k) -> (n, k)>,
                                 affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : )" +
         a + ", " + w + ") outs(%c : " + c + R"()
  return
})";
}

class TileMatmulItems : public ::testing::TestWithParam<Shape> {};

TEST_P(TileMatmulItems, MatchesFloat64OnAnyThreads) {
  Shape s = GetParam();
  std::mt19937_64 rng(s.m * 1000003 + s.k * 1009 + s.n + 7);
  std::normal_distribution<float> nd;
  std::vector<float> a(s.m * s.k), w(s.n * s.k), bias(s.n);
  for (float &x : a)
    x = nd(rng);
  for (float &x : w)
    x = nd(rng);
  for (float &x : bias)
    x = nd(rng);
  std::vector<float> first;
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    auto ctx = attn_test::jitTestContext();
    auto module = parseSourceString<ModuleOp>(linearKernelText(s), ctx.get());
    ASSERT_TRUE(module);
    KernelSignature sig;
    sig.args = {{ArgRole::Query, DType::F32, {s.m, s.k}, true, false},
                {ArgRole::Key, DType::F32, {s.n, s.k}, true, false},
                {ArgRole::Value, DType::F32, {s.n}, true, false},
                {ArgRole::Output, DType::F32, {s.m, s.n}, true, true}};
    Runtime runtime(RuntimeOptions{threads});
    auto kernel = runtime.compileModule(*module, sig, [&](OpPassManager &pm) {
      OpPassManager &f = pm.nest<func::FuncOp>();
      // Items of 2 row blocks of 16 rows × 2 slivers of 32 columns; K in
      // chunks of 24.
      f.addPass(createAttnTileMatmul(
          {/*vectorWidth=*/16, /*rowBlock=*/16, /*colBlock=*/64,
           /*depthBlock=*/24, /*sliver=*/32, /*itemRows=*/32,
           /*workItems=*/true}));
      // 5 K steps per micro-kernel iteration: chunks of 24 leave 4, of 2
      // and 7 leave all or 2 to the one-step loop.
      f.addPass(createAttnVectorizeTiles({16, 8, /*amx=*/false, 2, 5}));
      pm.addPass(createAttnParallelToRuntime());
      pm.nest<func::FuncOp>().addPass(createConvertLinalgToLoopsPass());
      attn_test::lowerWithUpstreamPasses(pm);
    });
    ASSERT_TRUE(static_cast<bool>(kernel))
        << llvm::toString(kernel.takeError());
    std::vector<float> c(s.m * s.n, NAN);
    AttentionArgs args;
    args.query = BufferRef::contiguous(a.data(), DType::F32, {s.m, s.k});
    args.key = BufferRef::contiguous(w.data(), DType::F32, {s.n, s.k});
    args.value = BufferRef::contiguous(bias.data(), DType::F32, {s.n});
    args.output = BufferRef::contiguous(c.data(), DType::F32, {s.m, s.n});
    ASSERT_TRUE(ok((*kernel)->run(args)));
    if (first.empty()) {
      // f32 accumulation over K terms: |err| <= 1e-5 · sum |a||w| + 1e-6.
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          double ref = bias[j], mag = 0;
          for (int64_t r = 0; r < s.k; ++r) {
            ref += double(a[i * s.k + r]) * w[j * s.k + r];
            mag += std::fabs(double(a[i * s.k + r]) * w[j * s.k + r]);
          }
          double got = c[i * s.n + j];
          ASSERT_TRUE(std::fabs(got - ref) <= 1e-6 + 1e-5 * mag)
              << "C[" << i << ", " << j << "] = " << got << ", float64 " << ref;
        }
      first = c;
      continue;
    }
    ASSERT_EQ(std::memcmp(c.data(), first.data(), c.size() * sizeof(float)), 0)
        << "results differ from one thread's";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TileMatmulItems,
    ::testing::Values(
        // 3 row groups (the last of 13 rows: a row-block tail), column
        // panels of 64, 64 and 48 (a 32 sliver and a 16 tail sliver), a
        // 9-column strip past the last vector, K 50 = chunks 24, 24, 2.
        Shape{77, 50, 185}, Shape{32, 24, 64}, // exactly one item: no tails
        Shape{5, 7, 17}                        // smaller than every block
        ),
    [](const auto &info) {
      return "m" + std::to_string(info.param.m) + "_k" +
             std::to_string(info.param.k) + "_n" + std::to_string(info.param.n);
    });

INSTANTIATE_TEST_SUITE_P(
    Shapes, TileMatmul,
    ::testing::Values(Shape{70, 48, 72},   // row tail 6, 8-column strip
                      Shape{64, 33, 96},   // whole blocks, odd K
                      Shape{5, 7, 17},     // smaller than every block
                      Shape{131, 200, 160} // row and column tails
                      ),
    [](const auto &info) {
      return "m" + std::to_string(info.param.m) + "_k" +
             std::to_string(info.param.k) + "_n" + std::to_string(info.param.n);
    });

} // namespace
