//===- GpuRunTimeSplitsTest.cpp - run-time split-KV on the GPU ------------===//
//
// Kernels of run-time sizes pick their KV split count per call (the host
// evaluates gpuKvSplits on the call's sizes and the device's SM count):
//   - without a device: the split choice's edge cases; the plan of a `?`
//     decode kernel splits where the kernel specialised to the same sizes
//     does (same grids, same combine launch), launches the combine kernel
//     only for split calls and sizes the partials per call; the plan's new
//     parts survive the disk-cache encoding and corrupt ones are rejected;
//   - on a device: split and unsplit (kv-splits=1) run-time decode against
//     the float64 reference at b = 1 over odd KV lengths up to 70001, GQA
//     4:1 and 7:1, ragged batches whose empty sequences must give exact
//     zeros and an lse of -inf, one compile per kernel kind.
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"
#include "SpecTestUtils.h"

#include "passes/GpuFlashKernel.h"
#include "runtime/DiskCache.h"
#include "runtime/GpuKernel.h"
#include "runtime/KernelStore.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

CompileOptions chipOptions(bool runTime = true, int64_t kvSplits = 0) {
  CompileOptions o;
  o.gpuChip = "sm_90";
  o.runTimeSizes = runTime;
  o.gpuKvSplits = kvSplits;
  return o;
}

TEST(GpuRunTimeSplits, SplitChoiceEdgeCases) {
  // The grid already fills the SMs (two blocks per SM or more): 1.
  EXPECT_EQ(gpuKvSplits(264, 1000, 132), 1);
  EXPECT_EQ(gpuKvSplits(100000, 1000, 132), 1);
  // Few blocks: ~8 blocks per SM, capped.
  EXPECT_EQ(gpuKvSplits(8, 1000, 132), 132);
  EXPECT_EQ(gpuKvSplits(8, 40, 132), 40);
  EXPECT_EQ(gpuKvSplits(263, 1000, 132), 5);
  // Degenerate inputs still give a count of at least 1.
  EXPECT_EQ(gpuKvSplits(0, 1000, 132), 1000);
  EXPECT_EQ(gpuKvSplits(1, 0, 132), 1);
  EXPECT_EQ(gpuKvSplits(1, 5, 0), 5);
  // The cap: 4 tiles per split at least, and the partials' traffic.
  EXPECT_EQ(gpuKvSplitCap(1, 1, 4), 1);
  EXPECT_EQ(gpuKvSplitCap(547, 70001, 4), 136);
  EXPECT_EQ(gpuKvSplitCap(547, 70001, 512), 2);
  EXPECT_EQ(gpuKvSplitCap(547, 70001, 0), 136);
  // Never more splits than KV tiles, whatever the grid.
  for (int64_t tiles = 1; tiles <= 300; tiles += 7)
    for (int64_t blocks = 1; blocks <= 600; blocks += 13)
      for (int64_t rows : {1, 4, 7, 64}) {
        int64_t s =
            gpuKvSplits(blocks, gpuKvSplitCap(tiles, tiles * 64, rows), 132);
        EXPECT_GE(s, 1);
        EXPECT_LE(s, tiles) << tiles << " tiles, " << blocks << " blocks";
        if (blocks >= 264)
          EXPECT_EQ(s, 1);
      }
}

/// The plan without kernel names (the two compiles name them alike, but
/// only the grids, blocks and shared bytes matter here).
std::string grids(std::string plan) {
  return std::regex_replace(plan, std::regex("[A-Za-z0-9_]+ grid"), "grid");
}

// The run-time choice is the static one: for each size, the `?` kernel's
// plan evaluated there equals the specialised kernel's.
TEST(GpuRunTimeSplits, SplitsLikeTheSpecialisedKernel) {
  Runtime rt = uncachedRuntime();
  AttentionSpec base =
      specOf("gqa:b=1,hq=32,hkv=8,sq=1,skv=100,d=128,dtype=bf16,ragged");
  auto dyn = rt.compile(base.withRunTimeSizes(), Target::Cuda, chipOptions());
  ASSERT_TRUE(static_cast<bool>(dyn)) << llvm::toString(dyn.takeError());
  std::string plan = (*dyn)->gpuLaunchPlan();
  // The split count is a host call on the sizes; the combine launch is
  // conditional on it.
  // One row block per KV head: the grid is the split count, of 8 blocks
  // per sequence and at most max(1, min(ceildiv(Skv, 128) / 4, Skv / 256))
  // splits.
  const std::string count = "kv_splits((query.dim0 * 8), max(min((ceildiv("
                            "key.dim2, 128) / 4), (key.dim2 / 256)), 1))";
  EXPECT_NE(plan.find("_flash grid (" + count + ", 8, query.dim0)"),
            std::string::npos)
      << plan;
  EXPECT_NE(plan.find("_combine grid (4, 8, query.dim0) block (128, 1, 1) "
                      "smem 0 if (" +
                      count + " > 1)"),
            std::string::npos)
      << plan;
  struct Size {
    int64_t b, skv;
    bool split;
  };
  for (Size s :
       {Size{1, 1, false}, Size{1, 4097, true}, Size{4, 32768, true},
        Size{16, 4097, true}, Size{64, 4096, false}, Size{1, 70001, true}}) {
    SCOPED_TRACE("b=" + std::to_string(s.b) + " skv=" + std::to_string(s.skv));
    AttentionSpec spec = base;
    spec.batch = s.b;
    spec.kvLen = s.skv;
    auto view = rt.compile(spec, Target::Cuda, chipOptions());
    auto fixed = rt.compile(spec, Target::Cuda, chipOptions(false));
    ASSERT_TRUE(static_cast<bool>(view)) << llvm::toString(view.takeError());
    ASSERT_TRUE(static_cast<bool>(fixed)) << llvm::toString(fixed.takeError());
    EXPECT_EQ((*view)->gpuBinary(), (*dyn)->gpuBinary());
    std::string got = (*view)->gpuLaunchPlan(),
                want = (*fixed)->gpuLaunchPlan();
    EXPECT_EQ(grids(got), grids(want));
    EXPECT_EQ(got.find("_combine") != std::string::npos, s.split) << got;
    EXPECT_EQ((*view)->workItems(), (*fixed)->workItems());
  }
  // kv-splits=1 keeps a `?` kernel unsplit: no combine kernel at all.
  auto unsplit = rt.compile(base.withRunTimeSizes(), Target::Cuda,
                            chipOptions(true, /*kvSplits=*/1));
  ASSERT_TRUE(static_cast<bool>(unsplit))
      << llvm::toString(unsplit.takeError());
  EXPECT_EQ((*unsplit)->gpuLaunchPlan().find("_combine"), std::string::npos);
  EXPECT_EQ((*unsplit)->gpuLaunchPlan().find("kv_splits"), std::string::npos);
}

/// A plan of one split flash launch and a conditional combine launch over
/// partials of run-time size, built by hand.
struct SplitPlan {
  GpuKernelCode code;
  int splits = -1, several = -1;

  int node(GpuExpr::Op op, int64_t value, int64_t dim, int lhs, int rhs) {
    GpuExpr e;
    e.op = op;
    e.value = value;
    e.dim = dim;
    e.lhs = lhs;
    e.rhs = rhs;
    code.exprs.push_back(e);
    return int(code.exprs.size() - 1);
  }
  SplitPlan() {
    code.bufferNames = {"query"};
    int b = node(GpuExpr::Op::Dim, 0, 0, -1, -1);
    int hkv = node(GpuExpr::Op::Const, 8, 0, -1, -1);
    int blocks = node(GpuExpr::Op::Mul, 0, 0, b, hkv);
    int cap = node(GpuExpr::Op::Const, 100, 0, -1, -1);
    splits = node(GpuExpr::Op::KvSplits, 132, 0, blocks, cap);
    int one = node(GpuExpr::Op::Const, 1, 0, -1, -1);
    several = node(GpuExpr::Op::CmpSlt, 0, 0, one, splits);
    int rows = node(GpuExpr::Op::Mul, 0, 0, blocks, splits);
    int used = node(GpuExpr::Op::MinS, 0, 0,
                    node(GpuExpr::Op::Sub, 0, 0, splits, one), one);
    code.scratchBytes = {512, 4}; // per partial row: 128 f32, 1 f32
    int partRows = node(GpuExpr::Op::Mul, 0, 0, rows, used);
    code.scratchExprs = {partRows, partRows};
    GpuLaunch flash;
    flash.kernel = "flash";
    flash.gridExpr = {splits, -1, b};
    flash.grid = {0, 8, 0};
    flash.params = {{GpuParam::Kind::Scratch, 0, 0},
                    {GpuParam::Kind::Expr, splits, 0}};
    GpuLaunch combine;
    combine.kernel = "combine";
    combine.gridExpr = {-1, -1, b};
    combine.grid = {4, 8, 0};
    combine.condExpr = several;
    code.launches = {flash, combine};
  }
};

TEST(GpuRunTimeSplits, ConditionalCombineAndRunTimeScratch) {
  SplitPlan p;
  EXPECT_NE(p.code.planString().find(
                "combine grid (4, 8, query.dim0) block (1, 1, 1) smem 0 if "
                "(1 < kv_splits((query.dim0 * 8), 100))"),
            std::string::npos)
      << p.code.planString();
  // b = 1: 8 blocks on 132 SMs split 100 ways (the cap); the partials hold
  // 8 * 100 rows.
  int64_t one[] = {1, 32, 1, 128};
  llvm::ArrayRef<int64_t> shapes[] = {one};
  std::vector<int64_t> scratch;
  auto r = p.code.resolveLaunches(shapes, 0, &scratch);
  ASSERT_TRUE(static_cast<bool>(r)) << llvm::toString(r.takeError());
  EXPECT_EQ((*r)[0].grid, (std::array<unsigned, 3>{100, 8, 1}));
  EXPECT_EQ((*r)[0].params[1].bits, 100u);
  EXPECT_TRUE((*r)[1].enabled);
  EXPECT_EQ(scratch, (std::vector<int64_t>{512 * 800, 4 * 800}));
  // The device's SM count, when known, replaces the pipeline's: 16 SMs
  // want ceil(128 / 8) = 16 splits.
  r = p.code.resolveLaunches(shapes, 16, &scratch);
  ASSERT_TRUE(static_cast<bool>(r)) << llvm::toString(r.takeError());
  EXPECT_EQ((*r)[0].grid[0], 16u);
  // b = 64: 512 blocks fill the SMs: one split, no combine launch, no
  // partials.
  int64_t wide[] = {64, 32, 1, 128};
  llvm::ArrayRef<int64_t> wideShapes[] = {wide};
  r = p.code.resolveLaunches(wideShapes, 0, &scratch);
  ASSERT_TRUE(static_cast<bool>(r)) << llvm::toString(r.takeError());
  EXPECT_EQ((*r)[0].grid, (std::array<unsigned, 3>{1, 8, 64}));
  EXPECT_FALSE((*r)[1].enabled);
  EXPECT_EQ(scratch, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(p.code.planString(wideShapes),
            "flash grid (1, 8, 64) block (1, 1, 1) smem 0");

  // The disk cache's encoding keeps the split node, the condition and the
  // scratch sizes.
  PayloadWriter w;
  writeGpuCode(w, p.code);
  std::string bytes = w.take();
  GpuKernelCode back;
  PayloadReader rd(bytes);
  ASSERT_TRUE(readGpuCode(rd, back, 1));
  EXPECT_EQ(back.planString(), p.code.planString());
  EXPECT_EQ(back.scratchExprs, p.code.scratchExprs);
  std::vector<int64_t> backScratch;
  ASSERT_TRUE(static_cast<bool>(back.resolveLaunches(shapes, 0, &backScratch)));
  EXPECT_EQ(backScratch, (std::vector<int64_t>{512 * 800, 4 * 800}));
  // Corrupt entries are rejected, never loaded: a condition or scratch
  // size naming no node, a size check on a node that is no comparison.
  auto rejected = [](const GpuKernelCode &c) {
    PayloadWriter cw;
    writeGpuCode(cw, c);
    std::string corrupt = cw.take();
    PayloadReader cr(corrupt);
    GpuKernelCode out;
    return !readGpuCode(cr, out, 1);
  };
  SplitPlan badCond;
  badCond.code.launches[1].condExpr = 99;
  EXPECT_TRUE(rejected(badCond.code));
  SplitPlan badScratch;
  badScratch.code.scratchExprs[1] = 99;
  EXPECT_TRUE(rejected(badScratch.code));
  SplitPlan badCheck;
  badCheck.code.checks.push_back({badCheck.splits, "not a comparison"});
  EXPECT_TRUE(rejected(badCheck.code));
}

//===----------------------------------------------------------------------===//
// On the device: split and unsplit run-time decode, the float64 reference.
//===----------------------------------------------------------------------===//

/// Runs `kernel` (a view of a `?` kernel, or one itself at `spec`'s sizes)
/// on fresh host buffers with `kvLengths`; checks it against the float64
/// reference, and that empty sequences give exact zeros and an lse of
/// -inf.
void runChecked(const KernelRef &kernel, const AttentionSpec &spec,
                uint64_t seed, llvm::ArrayRef<int32_t> kvLengths) {
  KernelSignature sig = signatureForSpec(spec);
  FillOptions fill;
  fill.seed = seed;
  HostBuffers buffers(sig, fill);
  if (!kvLengths.empty())
    buffers.setKvLengths(kvLengths);
  ASSERT_TRUE(ok(kernel->run(buffers.args())));
  auto ref = referenceAttention(sig, buffers.args());
  ASSERT_TRUE(static_cast<bool>(ref)) << llvm::toString(ref.takeError());
  Tolerance tol = toleranceFor(dtypeOf(spec.dtype));
  CheckReport report = checkAgainstReference(sig, buffers.args(), *ref, tol);
  EXPECT_TRUE(report.passed) << "seed " << seed << ": " << report.summary()
                             << " " << report.firstFailure;
  EXPECT_EQ(buffers.strayWrites(), "");
  const BufferRef *out = buffers.args().get(ArgRole::Output);
  const BufferRef *lse = buffers.args().get(ArgRole::Lse);
  // Decode, bhsd: sequence b's rows are [b * Hq * Dv, (b + 1) * Hq * Dv).
  int64_t perSeq = spec.numHeads * spec.queryLen * spec.effectiveValueDim();
  auto *o = static_cast<const uint16_t *>(out->data);
  for (auto [b, len] : llvm::enumerate(kvLengths)) {
    if (len != 0)
      continue;
    for (int64_t i = 0; i < perSeq; ++i)
      ASSERT_EQ(o[b * perSeq + i], 0u) << "sequence " << b << " element " << i;
    if (!lse)
      continue;
    auto *l = static_cast<const float *>(lse->data);
    for (int64_t h = 0; h < spec.numHeads * spec.queryLen; ++h)
      ASSERT_TRUE(std::isinf(l[b * spec.numHeads + h]) &&
                  l[b * spec.numHeads + h] < 0)
          << "lse of empty sequence " << b << " head " << h;
  }
}

struct SplitCase {
  const char *spec; ///< decode shorthand (b and skv are `?` in the kernel)
  /// (batch, skv); ragged batches get lengths skv, 0, skv / 2 + 1, ...
  std::vector<std::pair<int64_t, int64_t>> sizes;
  bool ragged;
};

void checkSplitDecode(int64_t kvSplits) {
  Runtime rt = uncachedRuntime();
  const SplitCase cases[] = {
      {"gqa:b=1,hq=32,hkv=8,sq=1,skv=1,d=128,dtype=bf16,ragged,lse",
       {{1, 1}, {1, 3}, {1, 129}, {1, 4097}, {1, 70001}, {3, 33333}, {16, 999}},
       true},
      {"gqa:b=1,hq=7,hkv=1,sq=1,skv=1,d=64,dtype=f16",
       {{1, 5}, {1, 6001}, {1, 65537}, {2, 777}},
       false},
  };
  int64_t kinds = 0;
  for (const SplitCase &c : cases) {
    AttentionSpec base = specOf(c.spec);
    auto dyn = rt.compile(base.withRunTimeSizes(), Target::Cuda,
                          chipOptions(true, kvSplits));
    ASSERT_TRUE(static_cast<bool>(dyn)) << llvm::toString(dyn.takeError());
    ++kinds;
    for (auto [b, skv] : c.sizes) {
      SCOPED_TRACE(std::string(c.spec) + " at b=" + std::to_string(b) +
                   " skv=" + std::to_string(skv) +
                   " kv-splits=" + std::to_string(kvSplits));
      AttentionSpec spec = base.withRunTimeSizes().withSizes(b, 1, skv);
      std::vector<int32_t> lengths;
      if (c.ragged)
        for (int64_t i = 0; i < b; ++i)
          lengths.push_back(int32_t(i % 3 == 0   ? skv
                                    : i % 3 == 1 ? 0
                                                 : skv / 2 + 1));
      runChecked(*dyn, spec, testSeed() + uint64_t(b * 131 + skv), lengths);
    }
    EXPECT_EQ(rt.cacheStats().compiles, kinds) << c.spec;
  }
}

TEST(GpuRunTimeSplitsDevice, SplitDecodeMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  checkSplitDecode(0);
}

TEST(GpuRunTimeSplitsDevice, UnsplitDecodeMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  checkSplitDecode(1);
}

// A small case of both paths of one kernel for compute-sanitizer
// (scripts/gpu-check.sh): a split call (4 splits; the partials' clamped
// reads, the per-call scratch, an empty sequence) and an unsplit one (320
// blocks: final rows stored directly, the combine launch skipped).
TEST(GpuRunTimeSplitsDevice, SmallSplitAndUnsplit) {
  SKIP_WITHOUT_DEVICE();
  Runtime rt = uncachedRuntime();
  AttentionSpec dyn =
      specOf("gqa:b=1,hq=32,hkv=8,sq=1,skv=1,d=128,dtype=bf16,ragged,lse")
          .withRunTimeSizes();
  auto k = rt.compile(dyn, Target::Cuda, chipOptions());
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  for (auto [b, skv] : {std::pair<int64_t, int64_t>{3, 2049}, {40, 300}}) {
    std::vector<int32_t> lengths;
    for (int64_t i = 0; i < b; ++i)
      lengths.push_back(int32_t(i % 3 == 0 ? skv : i % 3 == 1 ? 0 : skv / 2));
    runChecked(*k, dyn.withSizes(b, 1, skv), testSeed() + uint64_t(b), lengths);
  }
}

} // namespace
