//===- BenchBlas.cpp - the OpenBLAS ceiling of the benchmarks -------------===//
#include "bench/BenchUtil.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" char *openblas_get_corename(void);

namespace attn::bench {

namespace {

/// The ISA of an OpenBLAS x86 core name (cores of older ISAs: SSE).
VectorIsa coreIsa(const std::string &core) {
  for (const char *c : {"SkylakeX", "Cooperlake", "SapphireRapids"})
    if (core == c)
      return VectorIsa::Avx512;
  for (const char *c : {"Haswell", "Zen", "Excavator"})
    if (core == c)
      return VectorIsa::Avx2;
  for (const char *c :
       {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller"})
    if (core == c)
      return VectorIsa::Avx;
  return VectorIsa::Sse;
}

/// The OpenBLAS core whose sgemm kernel uses `isa` (all OpenBLAS builds with
/// DYNAMIC_ARCH on x86-64 have these four).
const char *coreFor(VectorIsa isa) {
  switch (isa) {
  case VectorIsa::Avx512:
    return "SkylakeX";
  case VectorIsa::Avx2:
    return "Haswell";
  case VectorIsa::Avx:
    return "Sandybridge";
  default:
    return "Prescott";
  }
}

// Set in the re-executed process: the core OpenBLAS ran before, and the
// caller's OPENBLAS_CORETYPE (empty if none).
constexpr const char *kOwnCoreEnv = "ATTN_BENCH_BLAS_OWN_CORE";
constexpr const char *kCallerCoreEnv = "ATTN_BENCH_BLAS_CALLER_CORE";

} // namespace

void useBestBlasCore(char **argv) {
  if (std::getenv(kOwnCoreEnv))
    return; // the re-executed process
  std::string own = openblas_get_corename();
  VectorIsa cpu = cpuVectorIsa();
  if (coreIsa(own) >= cpu)
    return;
  // OpenBLAS misdetected the CPU, or the caller's OPENBLAS_CORETYPE asks
  // for older kernels: either way the ceiling would be too low.
  const char *caller = std::getenv("OPENBLAS_CORETYPE");
  setenv(kCallerCoreEnv, caller ? caller : "", 1);
  setenv(kOwnCoreEnv, own.c_str(), 1);
  setenv("OPENBLAS_CORETYPE", coreFor(cpu), 1);
  // The environment is read when the library loads: load it again.
  execv("/proc/self/exe", argv);
  std::perror("re-exec with OPENBLAS_CORETYPE failed");
  if (caller && *caller)
    setenv("OPENBLAS_CORETYPE", std::getenv(kCallerCoreEnv), 1);
  else
    unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kOwnCoreEnv);
}

std::string blasCoreReport() {
  std::string core = openblas_get_corename();
  VectorIsa cpu = cpuVectorIsa(), isa = coreIsa(core);
  std::string out = "OpenBLAS core " + core + " (" + isaName(isa) + ")";
  const char *own = std::getenv(kOwnCoreEnv);
  const char *caller = std::getenv(kCallerCoreEnv);
  if (own && caller && *caller)
    out += std::string("; the caller's OPENBLAS_CORETYPE=") + caller + " ran " +
           own + ", which lacks this CPU's " + isaName(cpu) + ": overridden";
  else if (own)
    out += std::string("; OpenBLAS's own pick, ") + own +
           ", lacks this CPU's " + isaName(cpu) + ": overridden";
  if (own)
    out += std::string(" (OPENBLAS_CORETYPE=") +
           std::getenv("OPENBLAS_CORETYPE") + ")";
  if (isa < cpu)
    out += std::string("; WARNING: below the CPU's ") + isaName(cpu) +
           ", the sgemm ceiling is too low";
  return out;
}

void setBlasThreads(int threads) { openblas_set_num_threads(threads); }

double sgemmGflops(int n, int threads, bool cpuTime) {
  setBlasThreads(threads);
  std::vector<float> a(size_t(n) * n), b(a.size()), c(a.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = nd(rng);
    b[i] = nd(rng);
  }
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  double ms = cpuTime ? minCpuMs(run, 5) / threads : medianMs(run, 5);
  return 2.0 * n * n * double(n) / ms / 1e6;
}

} // namespace attn::bench
