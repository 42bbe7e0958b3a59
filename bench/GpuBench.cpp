//===- GpuBench.cpp - attn CUDA kernels on the issue's shapes -------------===//
#include "bench/GpuBench.h"
#include "bench/BenchJson.h"
#include "bench/BlockSparseLists.h"

#include "runtime/Runtime.h"
#include "runtime/cuda/CudaDriver.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

const char *kUsage = R"(usage: attn-bench-gpu [options]

Times attn's CUDA kernels on the benchmark shapes (bf16) and prints one JSON
line per case (see bench/GpuBench.h).

options:
  --runs=N      timed runs per case, median reported (default 20)
  --warmup=N    untimed runs first (default 5)
  --case=NAME   only this case (repeatable); --list prints the names
  --list        print the case names and shapes, then exit
  --no-copy     skip the device-to-device copy ceiling
  --backward    time the backward cases instead (Runtime::compileBackward;
                TFLOP/s with 2.5x the forward's flops, as FlashAttention
                counts them)
  --block-sparse
                time block-sparse masks (128 x 128 blocks, 100/50/25/12.5 %
                of the KV blocks listed) next to the dense kernel instead
)";

struct BenchCase {
  const char *name;
  const char *kind; ///< "prefill" or "decode"
  AttentionSpec spec;
};

AttentionSpec shape(int64_t b, int64_t hq, int64_t hkv, int64_t sq, int64_t skv,
                    bool causal, int64_t d = 128, int64_t dv = 0) {
  AttentionSpec s;
  s.batch = b;
  s.numHeads = hq;
  s.numKvHeads = hkv;
  s.queryLen = sq;
  s.kvLen = skv;
  s.headDim = d;
  s.valueDim = dv;
  s.dtype = ElementType::BF16;
  s.mask.causal = causal;
  return s;
}

AttentionSpec withDropout(AttentionSpec s, double p) {
  s.dropout = p;
  return s;
}

/// The issue's shapes; bench/gpu_peers.py uses the same names.
std::vector<BenchCase> benchCases() {
  return {
      {"prefill_causal_b4_s4096_h32_d128", "prefill",
       shape(4, 32, 32, 4096, 4096, true)},
      {"prefill_full_b4_s4096_h32_d128", "prefill",
       shape(4, 32, 32, 4096, 4096, false)},
      {"prefill_gqa_causal_b4_s4096_hq32_hkv8_d128", "prefill",
       shape(4, 32, 8, 4096, 4096, true)},
      {"prefill_causal_b4_s4096_h32_d64", "prefill",
       shape(4, 32, 32, 4096, 4096, true, 64)},
      {"prefill_causal_d256_b4_s4096_hq16_hkv8", "prefill",
       shape(4, 16, 8, 4096, 4096, true, 256)},
      {"prefill_causal_d192_dv128_b4_s4096_h16", "prefill",
       shape(4, 16, 16, 4096, 4096, true, 192, 128)},
      // Training forward: dropout 0.1 on the weights (SDPA's dropout_p).
      {"prefill_causal_dropout_b4_s4096_h32_d128", "prefill",
       withDropout(shape(4, 32, 32, 4096, 4096, true), 0.1)},
      {"decode_b64_kv4096_hq32_hkv32", "decode",
       shape(64, 32, 32, 1, 4096, false)},
      {"decode_b64_kv4096_hq32_hkv8", "decode",
       shape(64, 32, 8, 1, 4096, false)},
      {"decode_b64_kv4096_hq32_hkv1", "decode",
       shape(64, 32, 1, 1, 4096, false)},
      {"decode_b8_kv32768_hq32_hkv8", "decode",
       shape(8, 32, 8, 1, 32768, false)},
      // Small batches over long contexts: split-KV (chosen per call by the
      // kernels of run-time sizes).
      {"decode_b1_kv32768_hq32_hkv8", "decode",
       shape(1, 32, 8, 1, 32768, false)},
      {"decode_b4_kv8192_hq32_hkv8", "decode", shape(4, 32, 8, 1, 8192, false)},
  };
}

void emit(llvm::json::Object o) { attn::bench::emitJsonLine(std::move(o)); }

void emitError(const char *impl, const std::string &name,
               const std::string &message) {
  emit(llvm::json::Object{{"impl", impl}, {"case", name}, {"error", message}});
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Random bf16 in about [-2, 2): a 1 Mi-element host block from xorshift,
/// tiled over the device buffer with a rotating offset (timing does not
/// care about repetition; a full-size host fill would dominate the run).
llvm::Error fillRandom(cuda::Driver &driver, cuda::DevicePtr dst,
                       size_t elements, uint64_t seed) {
  const size_t block = 1 << 20;
  std::vector<uint16_t> host(block + 4096);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint16_t &h : host) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    float f = float(int32_t(x >> 40) - (1 << 23)) / float(1 << 22);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    h = uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  }
  for (size_t done = 0, i = 0; done < elements; ++i) {
    size_t n = std::min(block, elements - done);
    size_t offset = (i * 977) % 4096;
    if (llvm::Error e =
            driver.copyToDevice(dst + done * 2, host.data() + offset, n * 2))
      return e;
    done += n;
  }
  return llvm::Error::success();
}

struct Timing {
  double ms;
  int runs;
};

/// Median of `runs` event-timed calls of `fn` (which queues on `stream`).
llvm::Expected<Timing> timeOnStream(cuda::Driver &driver, void *stream,
                                    int warmup, int runs,
                                    const std::function<llvm::Error()> &fn) {
  for (int i = 0; i < warmup; ++i)
    if (llvm::Error e = fn())
      return std::move(e);
  std::vector<cuda::Event> starts, ends;
  for (int i = 0; i < runs; ++i) {
    auto s = cuda::Event::create(driver), e = cuda::Event::create(driver);
    if (!s)
      return s.takeError();
    if (!e)
      return e.takeError();
    starts.push_back(std::move(*s));
    ends.push_back(std::move(*e));
  }
  for (int i = 0; i < runs; ++i) {
    if (llvm::Error e = starts[i].record(stream))
      return std::move(e);
    if (llvm::Error e = fn())
      return std::move(e);
    if (llvm::Error e = ends[i].record(stream))
      return std::move(e);
  }
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t = ends[i].msSince(starts[i]);
    if (!t)
      return t.takeError();
    ms.push_back(*t);
  }
  return Timing{median(ms), runs};
}

void benchCopy(cuda::Driver &driver, void *stream, int warmup, int runs) {
  const size_t bytes = size_t(1) << 30;
  auto src = cuda::DeviceBuffer::create(driver, bytes);
  auto dst = cuda::DeviceBuffer::create(driver, bytes);
  if (!src || !dst) {
    std::string m = !src ? llvm::toString(src.takeError())
                         : llvm::toString(dst.takeError());
    if (!src && !dst)
      llvm::consumeError(dst.takeError());
    return emitError("attn-d2d", "ceiling_d2d_copy", m);
  }
  if (llvm::Error e = driver.memsetD8(src->get(), 1, bytes, stream))
    return emitError("attn-d2d", "ceiling_d2d_copy",
                     llvm::toString(std::move(e)));
  auto t = timeOnStream(driver, stream, warmup, runs, [&] {
    return driver.copyDeviceToDevice(dst->get(), src->get(), bytes, stream);
  });
  if (!t)
    return emitError("attn-d2d", "ceiling_d2d_copy",
                     llvm::toString(t.takeError()));
  emit(llvm::json::Object{{"impl", "attn-d2d"},
                          {"case", "ceiling_d2d_copy"},
                          {"kind", "ceiling"},
                          {"ms", t->ms},
                          {"bytes", double(2 * bytes)},
                          {"tbps", 2.0 * double(bytes) / (t->ms * 1e9)}});
}

/// timeOnStream of `kernel`'s enqueue of `args` on `stream`.
llvm::Expected<Timing> timeEnqueue(cuda::Driver &driver, void *stream,
                                   int warmup, int runs, const Kernel &kernel,
                                   const AttentionArgs &args) {
  EnqueueOptions eo;
  eo.stream = stream;
  eo.checkKvLengths = false;
  return timeOnStream(driver, stream, warmup, runs,
                      [&] { return kernel.enqueue(args, eo); });
}

/// Device buffers for every argument of `sig`: bf16 inputs random (bf16
/// buffers for which `random` holds, with it), the rest zero; `qkvoBytes`
/// adds up the query, key, value and output bytes.
llvm::Error allocateArgs(cuda::Driver &driver, const KernelSignature &sig,
                         uint64_t seed,
                         llvm::function_ref<bool(const ArgInfo &)> random,
                         std::vector<cuda::DeviceBuffer> &buffers,
                         AttentionArgs &args, int64_t &qkvoBytes) {
  for (const ArgInfo &info : sig.args) {
    int64_t elements = 1;
    for (int64_t d : info.shape)
      elements *= d;
    size_t bytes = size_t(elements * dtypeBytes(info.dtype));
    auto buf = cuda::DeviceBuffer::create(driver, bytes);
    if (!buf)
      return llvm::createStringError(std::string(stringifyArgRole(info.role)) +
                                     ": " + llvm::toString(buf.takeError()));
    llvm::Error e = llvm::Error::success();
    if (info.dtype == DType::BF16 && random(info))
      e = fillRandom(driver, buf->get(), size_t(elements), seed++);
    else
      e = driver.memsetD8(buf->get(), 0, bytes, nullptr);
    if (e)
      return e;
    if (info.role == ArgRole::Query || info.role == ArgRole::Key ||
        info.role == ArgRole::Value || info.role == ArgRole::Output)
      qkvoBytes += int64_t(bytes);
    args.set(info.role, BufferRef::device(buf->get(), info.dtype, info.shape));
    buffers.push_back(std::move(*buf));
  }
  return driver.synchronize();
}

/// Times one case compiled with `options`, reported as implementation
/// `impl`.
void benchCase(Runtime &runtime, cuda::Driver &driver, void *stream,
               const BenchCase &c, int warmup, int runs, uint64_t seed,
               const char *impl, const CompileOptions &options) {
  auto kernel = runtime.compile(c.spec, Target::Cuda, options);
  if (!kernel)
    return emitError(impl, c.name, llvm::toString(kernel.takeError()));
  std::vector<cuda::DeviceBuffer> buffers;
  AttentionArgs args;
  int64_t qkvo = 0;
  if (llvm::Error e = allocateArgs(
          driver, (*kernel)->signature(), seed,
          [](const ArgInfo &info) { return !info.isOutput; }, buffers, args,
          qkvo))
    return emitError(impl, c.name, llvm::toString(std::move(e)));
  // One checked, synchronous call (loads the module), then the timed ones.
  if (llvm::Error e = (*kernel)->run(args))
    return emitError(impl, c.name, llvm::toString(std::move(e)));
  auto t = timeEnqueue(driver, stream, warmup, runs, **kernel, args);
  if (!t)
    return emitError(impl, c.name, llvm::toString(t.takeError()));
  double flops = c.spec.flops();
  emit(llvm::json::Object{
      {"impl", impl},
      {"case", c.name},
      {"kind", c.kind},
      {"spec", c.spec.key()},
      {"shape", attn::bench::shapeJson(c.spec)},
      {"ms", t->ms},
      {"runs", int64_t(t->runs)},
      {"flops", flops},
      {"bytes", double(qkvo)},
      {"tflops", flops / (t->ms * 1e9)},
      {"tbps", double(qkvo) / (t->ms * 1e9)},
      {"chip", options.gpuChip.empty() ? "default" : options.gpuChip},
      {"compile_ms", (*kernel)->compileStats().totalMs()},
      {"plan", (*kernel)->gpuLaunchPlan()}});
}

/// Block-sparse masks (--block-sparse): GQA 32:8, d = 128, 128 x 128
/// blocks, non-causal, shared lists (H' = 1) of `density` of the KV blocks
/// per query block (bench/BlockSparseLists.h), at s = 4096 and 8192; the
/// dense kernel of the same shape is the 100 % line's "attn" case. Cases
/// block_sparse_s{S}_p{percent}; "visible" is the share of listed blocks.
void benchBlockSparse(Runtime &runtime, cuda::Driver &driver, void *stream,
                      int warmup, int runs) {
  for (int64_t s : {4096, 8192}) {
    AttentionSpec dense = shape(1, 32, 8, s, s, false);
    std::string base = "block_sparse_s" + std::to_string(s);
    benchCase(runtime, driver, stream, {base.c_str(), "prefill", dense}, warmup,
              runs, 1, "attn-dense", CompileOptions());
    for (double density : {1.0, 0.5, 0.25, 0.125}) {
      AttentionSpec sp = dense;
      sp.blockSparse = BlockSparseSpec{128, 128};
      std::string name =
          base + "_p" + std::to_string(int(std::lround(density * 1000)) / 10);
      auto kernel = runtime.compile(sp, Target::Cuda);
      if (!kernel) {
        emitError("attn", name, llvm::toString(kernel.takeError()));
        continue;
      }
      std::vector<cuda::DeviceBuffer> buffers;
      AttentionArgs args;
      int64_t qkvo = 0;
      if (llvm::Error e = allocateArgs(
              driver, (*kernel)->signature(), 1,
              [](const ArgInfo &info) { return !info.isOutput; }, buffers, args,
              qkvo)) {
        emitError("attn", name, llvm::toString(std::move(e)));
        continue;
      }
      std::vector<int32_t> counts, indices;
      attn::bench::makeBlockLists(s / 128, s / 128, density, counts, indices);
      const BufferRef *num = args.get(ArgRole::KvNumBlocks),
                      *idx = args.get(ArgRole::KvIndices);
      if (llvm::Error e = driver.copyToDevice(num->devicePtr(), counts.data(),
                                              counts.size() * 4))
        return emitError("attn", name, llvm::toString(std::move(e)));
      if (llvm::Error e = driver.copyToDevice(idx->devicePtr(), indices.data(),
                                              indices.size() * 4))
        return emitError("attn", name, llvm::toString(std::move(e)));
      auto t = timeEnqueue(driver, stream, warmup, runs, **kernel, args);
      if (!t) {
        emitError("attn", name, llvm::toString(t.takeError()));
        continue;
      }
      double visible = double(counts[0]) / double(s / 128);
      emit(llvm::json::Object{
          {"impl", "attn"},
          {"case", name},
          {"kind", "block_sparse"},
          {"spec", sp.key()},
          {"visible", visible},
          {"ms", t->ms},
          {"tflops", visible * dense.flops() / (t->ms * 1e9)},
          {"plan", (*kernel)->gpuLaunchPlan()}});
    }
  }
}

/// The backward's shapes; bench/gpu_backward_peers.py uses the same names.
std::vector<BenchCase> backwardCases() {
  return {
      {"backward_causal_b1_s4096_hq32_hkv8_d128", "backward",
       shape(1, 32, 8, 4096, 4096, true)},
      {"backward_full_b1_s4096_hq32_hkv8_d128", "backward",
       shape(1, 32, 8, 4096, 4096, false)},
  };
}

/// Times the backward of one case: the GPU forward (with lse) runs once on
/// random q, k, v to give the backward real O and lse, then the backward
/// (its three launches) is timed on a random dO.
void benchBackwardCase(Runtime &runtime, cuda::Driver &driver, void *stream,
                       const BenchCase &c, int warmup, int runs, uint64_t seed,
                       const char *impl, const CompileOptions &options) {
  AttentionSpec fwdSpec = c.spec;
  fwdSpec.returnLse = true;
  auto fwd = runtime.compile(fwdSpec, Target::Cuda);
  if (!fwd)
    return emitError(impl, c.name, llvm::toString(fwd.takeError()));
  auto bwd = runtime.compileBackward(c.spec, Target::Cuda, options);
  if (!bwd)
    return emitError(impl, c.name, llvm::toString(bwd.takeError()));
  std::vector<cuda::DeviceBuffer> buffers;
  AttentionArgs args;
  int64_t unused = 0;
  auto random = [](const ArgInfo &info) {
    return llvm::is_contained(
        {ArgRole::Query, ArgRole::Key, ArgRole::Value, ArgRole::GradOutput},
        info.role);
  };
  if (llvm::Error e = allocateArgs(driver, (*bwd)->signature(), seed, random,
                                   buffers, args, unused))
    return emitError(impl, c.name, llvm::toString(std::move(e)));
  if (llvm::Error e = (*fwd)->run(forwardArgsOf(args)))
    return emitError(impl, c.name, llvm::toString(std::move(e)));
  if (llvm::Error e = (*bwd)->run(args))
    return emitError(impl, c.name, llvm::toString(std::move(e)));
  auto t = timeEnqueue(driver, stream, warmup, runs, **bwd, args);
  if (!t)
    return emitError(impl, c.name, llvm::toString(t.takeError()));
  double flops = 2.5 * c.spec.flops();
  emit(llvm::json::Object{{"impl", impl},
                          {"case", c.name},
                          {"kind", c.kind},
                          {"spec", c.spec.key()},
                          {"shape", attn::bench::shapeJson(c.spec)},
                          {"ms", t->ms},
                          {"runs", int64_t(t->runs)},
                          {"flops", flops},
                          {"tflops", flops / (t->ms * 1e9)},
                          {"compile_ms", (*bwd)->compileStats().totalMs()},
                          {"plan", (*bwd)->gpuLaunchPlan()}});
}

} // namespace

int attn::bench::gpuBenchMain(int argc, char **argv) {
  int runs = 20, warmup = 5;
  bool copy = true, backward = false, blockSparse = false;
  std::vector<std::string> only;
  std::vector<BenchCase> cases = benchCases();
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    auto [name, value] = arg.split('=');
    if (name == "--runs" && !value.getAsInteger(10, runs) && runs > 0)
      continue;
    if (name == "--warmup" && !value.getAsInteger(10, warmup) && warmup >= 0)
      continue;
    if (name == "--case" && !value.empty()) {
      only.push_back(value.str());
      continue;
    }
    if (arg == "--no-copy") {
      copy = false;
      continue;
    }
    if (arg == "--block-sparse") {
      blockSparse = true;
      continue;
    }
    if (arg == "--backward") {
      backward = true;
      cases = backwardCases();
      continue;
    }
    if (arg == "--list") {
      for (const BenchCase &c : cases)
        llvm::outs() << c.name << " " << c.spec.key() << "\n";
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      llvm::outs() << kUsage;
      return 0;
    }
    llvm::errs() << "attn-bench-gpu: error: bad argument '" << arg
                 << "' (see --help)\n";
    return 2;
  }
  auto driver = cuda::Driver::get();
  if (!driver) {
    emitError("attn", "device", llvm::toString(driver.takeError()));
    return 1;
  }
  emit(llvm::json::Object{{"impl", "attn"},
                          {"case", "device"},
                          {"device", (*driver)->deviceName()},
                          {"sm", int64_t((*driver)->computeCapability())},
                          {"sms", int64_t((*driver)->multiprocessorCount())}});
  auto stream = cuda::Stream::create(**driver);
  if (!stream) {
    emitError("attn", "device", llvm::toString(stream.takeError()));
    return 1;
  }
  if (copy)
    benchCopy(**driver, stream->get(), warmup, runs);
  Runtime runtime(RuntimeOptions{1});
  if (blockSparse) {
    benchBlockSparse(runtime, **driver, stream->get(), warmup, runs);
    return 0;
  }
  uint64_t seed = 1;
  auto selected = [&](const BenchCase &c) {
    return only.empty() ||
           std::find(only.begin(), only.end(), c.name) != only.end();
  };
  Progress progress(int(std::count_if(cases.begin(), cases.end(), selected)));
  for (const BenchCase &c : cases) {
    if (!selected(c))
      continue;
    progress.next(c.name);
    if (backward) {
      // The default blocks (64 keys, 32-row Q tiles at d = 128), then
      // 128-key blocks (8 warps: half the dQ atomics and Q/dO loads per
      // key) with 32- and 64-row Q tiles.
      benchBackwardCase(runtime, **driver, stream->get(), c, warmup, runs, seed,
                        "attn", CompileOptions());
      for (auto [impl, rows] :
           {std::pair{"attn-k128", 0}, std::pair{"attn-k128-r64", 64}}) {
        CompileOptions o;
        o.gpuBwdTileKeys = 128;
        o.gpuBwdTileRows = rows;
        benchBackwardCase(runtime, **driver, stream->get(), c, warmup, runs,
                          seed, impl, o);
      }
      seed += 16;
      continue;
    }
    // The default chip (sm_90a on an H100: wgmma prefill) and, for
    // prefill, the portable mma.sync kernels for comparison.
    benchCase(runtime, **driver, stream->get(), c, warmup, runs, seed, "attn",
              CompileOptions());
    // The default kernels take run-time sizes; the kernel specialised to
    // the case's sizes for comparison (issue 11: dynamic >= 0.97 static).
    CompileOptions specialised;
    specialised.runTimeSizes = false;
    benchCase(runtime, **driver, stream->get(), c, warmup, runs, seed,
              "attn-static", specialised);
    if (std::string(c.kind) == "prefill" &&
        (*driver)->computeCapability() == 90) {
      CompileOptions sync;
      sync.gpuChip = "sm_90";
      benchCase(runtime, **driver, stream->get(), c, warmup, runs, seed,
                "attn-mma.sync", sync);
    }
    seed += 16;
  }
  Runtime::CacheStats stats = runtime.cacheStats();
  emit(llvm::json::Object{{"impl", "attn"},
                          {"case", "compile_counts"},
                          {"kind", "meta"},
                          {"compiles", stats.compiles},
                          {"disk_hits", stats.diskHits},
                          {"memory_hits", stats.hits}});
  return 0;
}
