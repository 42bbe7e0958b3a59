//===- GpuMergeStatesTest.cpp - attn.merge_states on the GPU --------------===//
//
// kv::mergeStates with buffers in device memory (or host buffers a device
// output makes it stage) runs the `_merge` kernel of attn-to-nvvm:
//   - everywhere: the kernel compiles for Target::Cuda (grid (S, H, B));
//     shape errors are named before anything runs, as on the CPU;
//   - on a device: 2 and 3 states, with and without the merged lse, f32,
//     f16 and bf16, Dv 64, 72 and 200 (two column chunks per thread),
//     empty states (lse = -inf) and a row whose states are all empty (0
//     and -inf), device buffers in place and host inputs staged, against
//     referenceMergeStates (float64) within the runtime's tolerances (f32
//     2e-5, f16 2e-3, bf16 1.6e-2 normwise; lse 2e-5 relative).
//
//===----------------------------------------------------------------------===//
#include "KvCacheTestUtils.h"

#include "runtime/cuda/CudaDriver.h"
#include "runtime/kvcache/CacheKernels.h"
#include "runtime/kvcache/Cascade.h"

#include <cmath>
#include <limits>

using namespace kv_test;

namespace {

TEST(GpuMergeStates, CompilesForCuda) {
  kv::CacheKernels kernels(std::string("off"), 0);
  llvm::SmallVector<kv::KernelBufferType, 4> types = {
      {rt::DType::BF16, {3, 2, 4, 5, 72}, false},
      {rt::DType::F32, {3, 2, 4, 5}, false},
      {rt::DType::BF16, {2, 4, 5, 72}, false},
      {rt::DType::F32, {2, 4, 5}, false}};
  rt::CompileOptions gpu;
  gpu.gpuChip = "sm_90";
  auto k = kernels.getCuda(
      "merge_states", kv::mergeStatesKernelSource(types, true), types, gpu);
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  std::string plan = (*k)->launchPlan();
  EXPECT_NE(plan.find("_merge grid (5, 4, 2) block (128, 1, 1)"),
            std::string::npos)
      << plan;
}

/// A device copy of a host tensor (freed by the driver at exit).
rt::BufferRef onDevice(mlir::attn::cuda::Driver &d, const HostTensor &t) {
  auto ptr = get(d.allocate(std::max<size_t>(t.bytes.size(), 4)));
  EXPECT_TRUE(ok(d.copyToDevice(ptr, t.bytes.data(), t.bytes.size())));
  rt::BufferRef b = t.ref;
  b.data = reinterpret_cast<void *>(ptr);
  b.space = rt::MemorySpace::Device;
  return b;
}

void toHost(mlir::attn::cuda::Driver &d, const rt::BufferRef &from,
            HostTensor &to) {
  ASSERT_TRUE(
      ok(d.copyToHost(to.bytes.data(), reinterpret_cast<uint64_t>(from.data),
                      to.bytes.size())));
}

struct MergeCase {
  ElementType dtype;
  int64_t n, dv;
  bool withLse, inPlace;
};

class GpuMergeStatesDevice : public ::testing::TestWithParam<MergeCase> {};

TEST_P(GpuMergeStatesDevice, MatchesReference) {
  std::string why;
  if (!haveDevice(why))
    GTEST_SKIP() << why;
  const MergeCase &p = GetParam();
  auto *driver = get(mlir::attn::cuda::Driver::get());
  ASSERT_TRUE(driver);
  uint64_t seed = testSeed();
  SCOPED_TRACE("ATTN_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t B = 3, H = 5, S = 2;
  rt::DType t = dtypeOf(p.dtype);
  HostTensor states(t, {p.n, B, H, S, p.dv});
  states.fillRandom(rng);
  HostTensor stateLse(rt::DType::F32, {p.n, B, H, S});
  std::normal_distribution<double> lseDist(0.0, 3.0);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < stateLse.size(); ++i) {
    int64_t row = i % (B * H * S);
    // Row 7: every state empty; every fifth state empty elsewhere.
    stateLse.set(i, row == 7 || i % 5 == 3 ? ninf : lseDist(rng));
  }
  HostTensor want(t, {B, H, S, p.dv}), wantLse(rt::DType::F32, {B, H, S});
  ASSERT_TRUE(ok(kv::referenceMergeStates(states.ref, stateLse.ref, want.ref,
                                          p.withLse ? &wantLse.ref : nullptr)));
  HostTensor got(t, {B, H, S, p.dv}), gotLse(rt::DType::F32, {B, H, S});
  got.fill(std::nan(""));
  gotLse.fill(std::nan(""));
  rt::BufferRef out = onDevice(*driver, got), lse = onDevice(*driver, gotLse);
  rt::BufferRef in = p.inPlace ? onDevice(*driver, states) : states.ref;
  rt::BufferRef inLse = p.inPlace ? onDevice(*driver, stateLse) : stateLse.ref;
  kv::CacheKernels kernels;
  rt::CompileOptions gpu;
  ASSERT_TRUE(
      ok(kv::mergeStates(kernels, sharedRuntime().threadPool(), in, inLse, out,
                         p.withLse ? &lse : nullptr, {}, gpu)));
  toHost(*driver, out, got);
  toHost(*driver, lse, gotLse);
  expectCloseTo(got, want, p.withLse ? &gotLse : nullptr,
                p.withLse ? &wantLse : nullptr, t);
  // The all-empty row: exact zeros (and -inf).
  for (int64_t c = 0; c < p.dv; ++c)
    ASSERT_EQ(got.at(7 * p.dv + c), 0.0);
  if (p.withLse)
    EXPECT_EQ(gotLse.at(7), ninf);
  // A second merge with the same shapes compiles nothing.
  int64_t compiles = kernels.stats().compiles;
  ASSERT_TRUE(
      ok(kv::mergeStates(kernels, sharedRuntime().threadPool(), in, inLse, out,
                         p.withLse ? &lse : nullptr, {}, gpu)));
  EXPECT_EQ(kernels.stats().compiles, compiles);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GpuMergeStatesDevice,
    ::testing::Values(MergeCase{ElementType::F32, 2, 64, true, true},
                      MergeCase{ElementType::BF16, 2, 72, false, true},
                      MergeCase{ElementType::F16, 3, 200, true, false},
                      MergeCase{ElementType::BF16, 3, 64, true, true},
                      MergeCase{ElementType::F16, 2, 128, false, false}),
    [](const auto &info) {
      const MergeCase &c = info.param;
      std::string dt = c.dtype == ElementType::F32   ? "F32"
                       : c.dtype == ElementType::F16 ? "F16"
                                                     : "Bf16";
      return dt + "N" + std::to_string(c.n) + "Dv" + std::to_string(c.dv) +
             (c.withLse ? "Lse" : "") + (c.inPlace ? "Device" : "Staged");
    });

} // namespace
