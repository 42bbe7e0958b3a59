//===- BenchUtil.h - timing and ceilings shared by the benchmarks -*- C++
//-*-===//
#ifndef ATTN_BENCH_BENCHUTIL_H
#define ATTN_BENCH_BENCHUTIL_H

#include <cstdint>
#include <functional>
#include <string>

namespace attn::bench {

/// The widest x86 vector ISA this CPU (and OS) supports, in order.
enum class VectorIsa { Sse, Avx, Avx2, Avx512 };
VectorIsa cpuVectorIsa();
const char *isaName(VectorIsa isa); ///< "SSE", "AVX", "AVX2", "AVX-512"

/// Median wall time in ms of `fn` over `reps` runs after `warmup` runs.
double medianMs(const std::function<void()> &fn, int reps, int warmup = 2);

/// Least wall time in ms of `fn` over `reps` runs (one warm-up).
double minWallMs(const std::function<void()> &fn, int reps);

/// Least process CPU time in ms of `fn` over `reps` runs (2 warm-ups): the
/// least disturbed run when other jobs share the cores and caches.
double minCpuMs(const std::function<void()> &fn, int reps);

/// Makes OpenBLAS run its best kernels for this CPU. OpenBLAS picks its
/// kernels (its "core") once, when the library loads; a release that does
/// not know the CPU falls back to an older core (Prescott's SSE3 kernels on
/// a new Xeon, Haswell's AVX2 ones on an AVX-512 EPYC). When the CPU's
/// vector ISA is newer than the core's and OPENBLAS_CORETYPE is not set,
/// this sets it to the matching core and re-executes the program (argv) so
/// the library loads again with it. Call first thing in main.
void useBestBlasCore(char **argv);

/// One line saying which OpenBLAS core runs and why (for the table header).
std::string blasCoreReport();

/// OpenBLAS sgemm rate (GFLOP/s) for an n³ product on `threads` threads.
/// `cpuTime`: timed by the least process CPU time divided by the threads
/// (a per-core rate that ignores other jobs on the cores, for comparisons
/// with kernels timed the same way) instead of the median wall time.
double sgemmGflops(int n, int threads, bool cpuTime = false);

/// Peak f32 multiply-add rate (GFLOP/s) of `threads` threads, each running
/// independent FMA chains in registers (no memory traffic) with the widest
/// vectors the CPU has: the arithmetic ceiling no kernel can pass.
/// `cpuTime` as for sgemmGflops.
double fmaPeakGflops(int threads, bool cpuTime = false);

/// memcpy bandwidth (GB/s, bytes read + written) of `bytes`-sized buffers
/// copied by `threads` threads. `cpuTime` as for sgemmGflops.
double copyGBps(int64_t bytes, int threads, bool cpuTime = false);

/// Read-only bandwidth (GB/s) of `threads` threads summing disjoint parts
/// of a `bytes` buffer: the ceiling of a kernel that only reads (decode).
/// `cpuTime` as for sgemmGflops.
double readGBps(int64_t bytes, int threads, bool cpuTime = false);

/// Pins OpenBLAS to `threads` threads (1 inside our own parallel loops).
void setBlasThreads(int threads);

} // namespace attn::bench

#endif
