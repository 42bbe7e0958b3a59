//===- GpuRunTimeSizesTest.cpp - CUDA kernels of run-time sizes -----------===//
//
// One compiled CUDA kernel per kernel kind serves every batch, Sq and Skv:
//   - without a device: a `?` spec compiles to a launch plan whose grid is
//     an expression of the buffers' dims; static specs differing only in
//     sizes share one compile; plans evaluate per size (grids, size
//     parameters, tensor maps) and sizes that break a constraint are errors
//     naming the value, checked before anything runs; the plan survives the
//     disk-cache encoding;
//   - on a device: the dynamic kernels against the float64 reference at
//     several sizes (odd lengths, GQA 4:1 and 7:1, bshd, ragged lengths,
//     decode), each kind compiled once (cacheStats).
//
//===----------------------------------------------------------------------===//
#include "GpuTestUtils.h"

#include "runtime/DiskCache.h"
#include "runtime/GpuKernel.h"
#include "runtime/KernelStore.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;
using namespace attn_test;

namespace {

AttentionSpec parse(llvm::StringRef text) {
  std::string error;
  auto spec = parseSpecShorthand(text, error);
  EXPECT_TRUE(spec.has_value()) << error;
  return spec.value_or(AttentionSpec{});
}

CompileOptions chipOptions(const std::string &chip, bool runTime = true) {
  CompileOptions o;
  o.gpuChip = chip;
  o.runTimeSizes = runTime;
  return o;
}

TEST(GpuRunTimeSizes, OneCompileServesEverySize) {
  Runtime rt = uncachedRuntime();
  AttentionSpec base = parse("gqa:b=2,hq=8,hkv=2,sq=100,skv=100,d=128,"
                             "causal,dtype=bf16");
  auto dyn =
      rt.compile(base.withRunTimeSizes(), Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(dyn)) << llvm::toString(dyn.takeError());
  EXPECT_EQ((*dyn)->workItems(), -1);
  // 128-row blocks over the 4 * Sq rows of a KV head's group.
  EXPECT_NE((*dyn)->gpuLaunchPlan().find(
                "grid (ceildiv((query.dim2 * 4), 128), 2, query.dim0)"),
            std::string::npos)
      << (*dyn)->gpuLaunchPlan();
  EXPECT_EQ(rt.cacheStats().compiles, 1);
  struct Size {
    int64_t b, sq, skv;
  };
  for (Size s : {Size{1, 1000, 1000}, Size{3, 129, 4097}, Size{2, 100, 100}}) {
    AttentionSpec spec = base;
    spec.batch = s.b;
    spec.queryLen = s.sq;
    spec.kvLen = s.skv;
    auto k = rt.compile(spec, Target::Cuda, chipOptions("sm_90"));
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    EXPECT_EQ((*k)->gpuBinary(), (*dyn)->gpuBinary());
    int64_t rowBlocks = (4 * s.sq + 127) / 128;
    EXPECT_EQ((*k)->workItems(), rowBlocks * 2 * s.b);
    EXPECT_NE((*k)->gpuLaunchPlan().find("grid (" + std::to_string(rowBlocks) +
                                         ", 2, " + std::to_string(s.b) + ")"),
              std::string::npos)
        << (*k)->gpuLaunchPlan();
  }
  EXPECT_EQ(rt.cacheStats().compiles, 1);
  // Static sizes still specialise when asked: their own compile, constant
  // grid.
  auto st = rt.compile(base, Target::Cuda, chipOptions("sm_90", false));
  ASSERT_TRUE(static_cast<bool>(st)) << llvm::toString(st.takeError());
  EXPECT_EQ((*st)->gpuLaunchPlan().find("query.dim"), std::string::npos);
  EXPECT_EQ(rt.cacheStats().compiles, 2);
}

// A fixed split count needs static sizes: such specs still specialise.
TEST(GpuRunTimeSizes, KvSplitsSpecialise) {
  Runtime rt = uncachedRuntime();
  CompileOptions o = chipOptions("sm_90");
  o.gpuKvSplits = 2;
  auto k = rt.compile(parse("mha:b=1,hq=2,sq=1,skv=4096,d=64,dtype=f16"),
                      Target::Cuda, o);
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  EXPECT_NE((*k)->gpuLaunchPlan().find("_combine"), std::string::npos);
  auto dyn = rt.compile(parse("mha:b=?,hq=2,sq=1,skv=?,d=64,dtype=f16"),
                        Target::Cuda, o);
  ASSERT_FALSE(static_cast<bool>(dyn));
  EXPECT_NE(
      llvm::toString(dyn.takeError()).find("kv-splits 2 needs static sizes"),
      std::string::npos);
}

// Where the specialised kernel would split KV (few blocks for the SMs),
// the decode kernel of run-time sizes splits too (per call): both sizes
// are views of one compile (GpuRunTimeSplitsTest checks the plans). With a
// run-time Sq the kernels stay unsplit, so such specs specialise.
TEST(GpuRunTimeSizes, SplitDecodeUsesTheRunTimeKernel) {
  Runtime rt = uncachedRuntime();
  // 8 blocks on 132 SMs over 32768 keys: split.
  auto split =
      rt.compile(parse("gqa:b=1,hq=32,hkv=8,sq=1,skv=32768,d=128,dtype=bf16"),
                 Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(split)) << llvm::toString(split.takeError());
  EXPECT_NE((*split)->gpuLaunchPlan().find("_combine"), std::string::npos);
  // 512 blocks: unsplit.
  auto wide =
      rt.compile(parse("gqa:b=64,hq=32,hkv=8,sq=1,skv=4096,d=128,dtype=bf16"),
                 Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(wide)) << llvm::toString(wide.takeError());
  EXPECT_EQ((*wide)->gpuLaunchPlan().find("_combine"), std::string::npos);
  auto dyn =
      rt.compile(parse("gqa:b=?,hq=32,hkv=8,sq=1,skv=?,d=128,dtype=bf16"),
                 Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(dyn)) << llvm::toString(dyn.takeError());
  EXPECT_EQ((*split)->gpuBinary(), (*dyn)->gpuBinary());
  EXPECT_EQ((*wide)->gpuBinary(), (*dyn)->gpuBinary());
  EXPECT_EQ(rt.cacheStats().compiles, 1);
  // Sq = 16 over 32768 keys splits when specialised; the kernel of a
  // run-time Sq would not: its own compile.
  auto chunk =
      rt.compile(parse("gqa:b=1,hq=32,hkv=8,sq=16,skv=32768,d=128,dtype=bf16"),
                 Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(chunk)) << llvm::toString(chunk.takeError());
  EXPECT_NE((*chunk)->gpuLaunchPlan().find("_combine"), std::string::npos);
  EXPECT_EQ((*chunk)->gpuLaunchPlan().find("query.dim"), std::string::npos);
  EXPECT_EQ(rt.cacheStats().compiles, 2);
}

/// Runs `kernel` on host buffers of `spec`'s sizes whose output holds
/// 0x7f7f; expects the error `want` before anything runs (no device
/// needed) and the output untouched.
void expectSizeError(const KernelRef &kernel, const AttentionSpec &spec,
                     const std::string &want) {
  HostBuffers buffers(signatureForSpec(spec), FillOptions{});
  const BufferRef *out = buffers.args().get(ArgRole::Output);
  ASSERT_NE(out, nullptr);
  size_t bytes = size_t(out->numElements()) * 2;
  std::memset(out->data, 0x7f, bytes);
  llvm::Error e = kernel->run(buffers.args());
  ASSERT_TRUE(static_cast<bool>(e)) << "no error for " << spec.key();
  std::string text = llvm::toString(std::move(e));
  EXPECT_NE(text.find(want), std::string::npos) << text;
  auto *p = static_cast<const unsigned char *>(out->data);
  EXPECT_TRUE(std::all_of(p, p + bytes, [](unsigned char c) {
    return c == 0x7f;
  })) << "the output changed";
}

TEST(GpuRunTimeSizes, SizesPastTheLimitsAreErrors) {
  Runtime rt = uncachedRuntime();
  AttentionSpec dyn = parse("mha:b=?,hq=1,sq=?,skv=?,d=16,dtype=bf16");
  auto k = rt.compile(dyn, Target::Cuda, chipOptions("sm_90"));
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  // Grid z is the batch: CUDA allows 65535.
  expectSizeError(*k, dyn.withSizes(70000, 1, 1),
                  "grid z = query.dim0 = 70000 is outside CUDA's [1, 65535]");
  // The kernels clamp loads to the last key and row: empty is an error
  // (the CPU runs those).
  expectSizeError(*k, dyn.withSizes(1, 5, 0),
                  "run-time size key.dim2 = 0: CUDA kernels need non-empty "
                  "sizes");
  expectSizeError(*k, dyn.withSizes(0, 5, 5), "run-time size query.dim0 = 0");
}

// Plans evaluate on the host: expressions, grids, parameters.
TEST(GpuRunTimeSizes, ResolvesExpressions) {
  GpuKernelCode code;
  code.bufferNames = {"query"};
  auto node = [&](GpuExpr::Op op, int64_t value, int64_t dim, int lhs,
                  int rhs) {
    GpuExpr e;
    e.op = op;
    e.value = value;
    e.dim = dim;
    e.lhs = lhs;
    e.rhs = rhs;
    code.exprs.push_back(e);
    return int(code.exprs.size() - 1);
  };
  int sq = node(GpuExpr::Op::Dim, 0, 2, -1, -1);
  int four = node(GpuExpr::Op::Const, 4, 0, -1, -1);
  int rows = node(GpuExpr::Op::Mul, 0, 0, sq, four);
  int c128 = node(GpuExpr::Op::Const, 128, 0, -1, -1);
  int blocks = node(GpuExpr::Op::CeilDivS, 0, 0, rows, c128);
  int zero = node(GpuExpr::Op::Const, 0, 0, -1, -1);
  int bad = node(GpuExpr::Op::DivU, 0, 0, sq, zero);
  GpuLaunch l;
  l.kernel = "k";
  l.gridExpr = {blocks, -1, -1};
  l.grid = {0, 3, 1};
  l.params = {{GpuParam::Kind::Buffer, 0, 0}, {GpuParam::Kind::Expr, sq, 0}};
  code.launches.push_back(l);
  int64_t shape[] = {2, 8, 1000, 64};
  llvm::ArrayRef<int64_t> shapes[] = {shape};
  EXPECT_EQ(code.planString(),
            "k grid (ceildiv((query.dim2 * 4), 128), 3, 1) block (1, 1, 1) "
            "smem 0");
  // The unused division by zero still fails: every node is evaluated.
  auto r = code.resolveLaunches(shapes);
  ASSERT_FALSE(static_cast<bool>(r));
  EXPECT_NE(
      llvm::toString(r.takeError()).find("(query.dim2 / 0) divides by zero"),
      std::string::npos);
  code.exprs[bad].op = GpuExpr::Op::MaxS;
  EXPECT_EQ(code.planString(shapes),
            "k grid (32, 3, 1) block (1, 1, 1) smem 0");
  auto ok = code.resolveLaunches(shapes);
  ASSERT_TRUE(static_cast<bool>(ok)) << llvm::toString(ok.takeError());
  EXPECT_EQ((*ok)[0].grid, (std::array<unsigned, 3>{32, 3, 1}));
  EXPECT_EQ((*ok)[0].params[1].kind, GpuParam::Kind::I64);
  EXPECT_EQ((*ok)[0].params[1].bits, 1000u);
  EXPECT_EQ(code.totalBlocks(), -1);

  // The disk cache's encoding keeps the expressions.
  PayloadWriter w;
  writeGpuCode(w, code);
  std::string bytes = w.take();
  GpuKernelCode back;
  PayloadReader rd(bytes);
  ASSERT_TRUE(readGpuCode(rd, back, 1));
  EXPECT_EQ(back.planString(shapes), code.planString(shapes));
  // A node naming a later node is a corrupt entry, never loaded.
  code.exprs[rows].lhs = blocks;
  PayloadWriter w2;
  writeGpuCode(w2, code);
  std::string corrupt = w2.take();
  PayloadReader rd2(corrupt);
  GpuKernelCode rejected;
  EXPECT_FALSE(readGpuCode(rd2, rejected, 1));
}

TEST(GpuRunTimeSizes, TensorMapDimsFromTheBuffer) {
  GpuTensorMap m;
  m.role = "key";
  m.dataType = cuda::kTensorMapBFloat16;
  m.dims = {128, 0, 2, 0}; // bhsd K: (D, Skv, Hkv, B), Skv and B run-time
  m.strides = {256, 0, 0};
  m.box = {64, 64, 1, 1};
  std::vector<uint64_t> dims, strides;
  int64_t shape[] = {3, 2, 100, 128};
  ASSERT_TRUE(ok(m.resolve(shape, dims, strides)));
  EXPECT_EQ(dims, (std::vector<uint64_t>{128, 100, 2, 3}));
  EXPECT_EQ(strides, (std::vector<uint64_t>{256, 25600, 51200}));
  int64_t wrongHeads[] = {3, 4, 100, 128};
  llvm::Error e = m.resolve(wrongHeads, dims, strides);
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_NE(llvm::toString(std::move(e))
                .find("key: dim 1 is 4, the kernel's tensor map needs 2"),
            std::string::npos);
  // Static maps are used as they are.
  m.dims = {128, 100, 2, 3};
  m.strides = {256, 25600, 51200};
  ASSERT_TRUE(ok(m.resolve(wrongHeads, dims, strides)));
  EXPECT_EQ(dims, m.dims);
}

//===----------------------------------------------------------------------===//
// On the device: one compile per kind, many sizes, the float64 reference.
//===----------------------------------------------------------------------===//

struct DynCase {
  const char *spec; ///< shorthand with `?` sizes
  std::vector<std::array<int64_t, 3>> sizes;
  bool ragged = false; ///< kv_lengths: Skv, 0, Skv / 2 + 1, ...
};

/// Runs the kernel of run-time sizes `kernel` on fresh host buffers of
/// `spec`'s sizes and checks it against the float64 reference.
void runSized(const KernelRef &kernel, const AttentionSpec &spec, uint64_t seed,
              llvm::ArrayRef<int32_t> kvLengths) {
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
}

void checkDynamic(const std::string &chip) {
  Runtime rt = uncachedRuntime();
  const DynCase cases[] = {
      // GQA 4:1 causal prefill, lengths not multiples of the tiles.
      {"gqa:b=?,hq=8,hkv=2,sq=?,skv=?,d=128,causal,dtype=bf16",
       {{1, 77, 77}, {3, 200, 333}, {2, 129, 1000}, {1, 1, 300}}},
      // GQA 7:1 full attention, f16, bshd.
      {"gqa:b=?,hq=7,hkv=1,sq=?,skv=?,d=64,dtype=f16,layout=bshd",
       {{2, 33, 65}, {1, 500, 129}, {4, 3, 1}}},
      // Ragged KV lengths with the lse.
      {"gqa:b=?,hq=8,hkv=2,sq=?,skv=?,d=128,dtype=bf16,ragged,lse",
       {{3, 64, 500}, {2, 100, 77}},
       true},
      // Decode (Sq = 1 static: its own kernel kind), batch and Skv at run
      // time, GQA 4:1 and 7:1.
      {"gqa:b=?,hq=32,hkv=8,sq=1,skv=?,d=128,dtype=bf16,ragged",
       {{1, 1, 77}, {5, 1, 4097}, {16, 1, 1000}},
       true},
      {"gqa:b=?,hq=7,hkv=1,sq=1,skv=?,d=64,dtype=f16",
       {{3, 1, 129}, {1, 1, 2000}}},
  };
  int64_t kinds = 0;
  for (const DynCase &c : cases) {
    AttentionSpec dyn = parse(c.spec);
    auto k = rt.compile(dyn, Target::Cuda, chipOptions(chip));
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    ++kinds;
    for (auto [b, sq, skv] : c.sizes) {
      SCOPED_TRACE(std::string(c.spec) + " at b=" + std::to_string(b) +
                   " sq=" + std::to_string(sq) + " skv=" + std::to_string(skv));
      std::vector<int32_t> lengths;
      if (c.ragged)
        for (int64_t i = 0; i < b; ++i)
          lengths.push_back(int32_t(i % 3 == 0   ? skv
                                    : i % 3 == 1 ? 0
                                                 : skv / 2 + 1));
      runSized(*k, dyn.withSizes(b, sq, skv),
               testSeed() + uint64_t(b * 131 + sq * 7 + skv), lengths);
    }
    // One compile per kind, whatever the sizes.
    EXPECT_EQ(rt.cacheStats().compiles, kinds) << c.spec;
  }
}

TEST(GpuRunTimeSizesDevice, MatchesReferenceSm90) {
  SKIP_WITHOUT_DEVICE();
  checkDynamic("sm_90");
}

TEST(GpuRunTimeSizesDevice, MatchesReferenceSm90a) {
  SKIP_WITHOUT_DEVICE();
  if (deviceLacksSm90a())
    GTEST_SKIP() << kNeedsSm90a;
  checkDynamic("sm_90a");
}

} // namespace
