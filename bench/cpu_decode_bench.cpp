//===- cpu_decode_bench.cpp - decode over a paged KV cache vs copy bandwidth
//===//
//
// One run measures the read-only stream (the ceiling of a decode step, which
// only reads), memcpy bandwidth (read + write) and attn's compiled decode
// step (attn.cache_attention
// over a paged cache, GQA hq=32 hkv=8 d=128) for f32 and bf16 storage, both
// page layouts (nhd [P, page, Hkv, D], the default, and head-major hnd
// [P, Hkv, page, D]), batch 1 and 16 at 4k keys, and batch 1 at 1k..64k keys
// (cost must grow linearly); `--kv` (with `--batch`) picks other cases. Bytes
// counted: the K and V rows read, plus q and output. The read-only stream and
// memcpy are measured again right before every case's timed runs; /read (the
// primary ratio) and /copy are ratios to those neighbours (robust to load
// that drifts while the benchmark runs on a shared machine). --json prints
// JSON lines (bench/benchschema.py) instead of the table; progress on stderr.
// --rope times the prefill append and a decode step without and with a
// rotary embedding instead (a table; no JSON).
//
//===----------------------------------------------------------------------===//
#include "bench/BenchJson.h"
#include "bench/BenchUtil.h"
#include "runtime/HalfFloat.h"
#include "runtime/kvcache/KvSteps.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

using namespace mlir::attn;
namespace bench = attn::bench;

static llvm::cl::opt<unsigned> threads("bench-threads",
                                       llvm::cl::desc("threads (0: all)"),
                                       llvm::cl::init(0));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(20));
static llvm::cl::list<std::string>
    layouts("layout",
            llvm::cl::desc("page layouts to run (nhd, hnd; "
                           "default both)"),
            llvm::cl::CommaSeparated);
static llvm::cl::list<std::string>
    dtypes("dtype",
           llvm::cl::desc("storage types to run (f32, bf16; "
                          "default both)"),
           llvm::cl::CommaSeparated);
static llvm::cl::opt<int> pageSize("page-size", llvm::cl::desc("rows per page"),
                                   llvm::cl::init(16));
static llvm::cl::opt<int> kvSplits("kv-splits",
                                   llvm::cl::desc("KV splits (0: cost model)"),
                                   llvm::cl::init(0));
static llvm::cl::opt<int> tileKv("tile-kv", llvm::cl::desc("keys per KV tile"),
                                 llvm::cl::init(64));
static llvm::cl::opt<bool> staticSizes(
    "static-sizes",
    llvm::cl::desc("kernels specialised to each shape (default: the kernel "
                   "of run-time batch and lengths)"),
    llvm::cl::init(false));
static llvm::cl::opt<bool> cpuTime(
    "cpu-time",
    llvm::cl::desc("time by the least process CPU time of the runs instead "
                   "of the median wall time, the kernel and the read/copy "
                   "streams alike (with --bench-threads=1: their own time, "
                   "for A/B comparisons on a shared machine)"),
    llvm::cl::init(false));
static llvm::cl::list<int64_t>
    lengths("kv",
            llvm::cl::desc("KV lengths to run at batch 1 (default "
                           "4096,1024,16384,65536; batch 16 at 4096 "
                           "with the default)"),
            llvm::cl::CommaSeparated);
static llvm::cl::list<int64_t>
    batches("batch", llvm::cl::desc("batch sizes to run with --kv (default 1)"),
            llvm::cl::CommaSeparated);
static llvm::cl::opt<bool>
    json("json",
         llvm::cl::desc("print JSON lines (bench/benchschema.py) instead of "
                        "a table"),
         llvm::cl::init(false));
static llvm::cl::opt<bool>
    rope("rope",
         llvm::cl::desc("instead of decode: time the prefill append of each "
                        "case's rows and one decode step without and with a "
                        "rotary embedding (NeoX, rotary dim = head dim, f32 "
                        "tables) on the keys and the queries"),
         llvm::cl::init(false));
static llvm::cl::opt<bool> quick("quick",
                                 llvm::cl::desc("small sizes (smoke test)"),
                                 llvm::cl::init(false));

namespace {

constexpr int64_t kHq = 32, kHkv = 8, kDim = 128;

/// Random elements of `dtype` as raw bytes (f32, or bf16 as uint16).
std::vector<uint16_t> randomBuffer(int64_t n, ElementType dtype,
                                   std::mt19937 &rng) {
  std::normal_distribution<float> nd;
  int64_t words = dtype == ElementType::F32 ? 2 * n : n;
  std::vector<uint16_t> out(words);
  if (dtype == ElementType::F32) {
    auto *f = reinterpret_cast<float *>(out.data());
    for (int64_t i = 0; i < n; ++i)
      f[i] = nd(rng);
  } else {
    for (int64_t i = 0; i < n; ++i)
      out[i] = rt::floatToBFloat(nd(rng));
  }
  return out;
}

rt::DType toDType(ElementType t) {
  return t == ElementType::F32 ? rt::DType::F32 : rt::DType::BF16;
}

struct Row {
  double ms, gbps;
  double copy; ///< memcpy GB/s measured right before the timed runs
  double read; ///< read-only GB/s measured right before the timed runs
};

/// A decode step's random queries and its output, [batch, Hq, 1, D].
struct QueryBuffers {
  std::vector<uint16_t> q, out;
  rt::BufferRef qRef, oRef;
  QueryBuffers(int64_t batch, ElementType dtype, std::mt19937 &rng)
      : q(randomBuffer(batch * kHq * kDim, dtype, rng)), out(q.size()) {
    rt::DType dt = toDType(dtype);
    qRef = rt::BufferRef::contiguous(q.data(), dt, {batch, kHq, 1, kDim});
    oRef = rt::BufferRef::contiguous(out.data(), dt, {batch, kHq, 1, kDim});
  }
};

/// A paged cache of `batch` empty sequences with room for `len` rows each.
llvm::Expected<std::unique_ptr<kv::PagedKvCache>>
makeCache(int64_t batch, int64_t len, ElementType dtype, PageLayout layout,
          std::vector<kv::SeqId> &seqs) {
  kv::PagedKvCacheConfig cfg;
  cfg.pageSize = pageSize;
  cfg.pageLayout = layout;
  cfg.maxPagesPerSeq = (len + pageSize - 1) / pageSize;
  cfg.numPages = batch * cfg.maxPagesPerSeq;
  cfg.maxSequences = batch;
  cfg.numKvHeads = kHkv;
  cfg.headDim = kDim;
  cfg.dtype = dtype;
  auto cache = kv::PagedKvCache::create(cfg);
  if (!cache)
    return cache.takeError();
  for (int64_t b = 0; b < batch; ++b) {
    auto id = (*cache)->addSequence();
    if (!id)
      return id.takeError();
    seqs.push_back(*id);
  }
  return cache;
}

llvm::Expected<Row> decodeCase(rt::Runtime &runtime, int64_t batch, int64_t len,
                               ElementType dtype, PageLayout layout) {
  std::mt19937 rng(7);
  std::vector<kv::SeqId> seqs;
  auto cache = makeCache(batch, len, dtype, layout, seqs);
  if (!cache)
    return cache.takeError();
  kv::StepOptions so;
  so.compile.kvSplits = kvSplits;
  so.compile.tileKv = tileKv;
  so.runTimeSizes = !staticSizes;
  kv::KvStepper steps(**cache, runtime, so);
  // Fill the cache with `len` rows per sequence (one prefill append).
  int64_t rows = batch * kHkv * len * kDim;
  auto k = randomBuffer(rows, dtype, rng), v = randomBuffer(rows, dtype, rng);
  rt::DType dt = toDType(dtype);
  if (llvm::Error e = steps.appendStep(
          seqs,
          rt::BufferRef::contiguous(k.data(), dt, {batch, kHkv, len, kDim}),
          rt::BufferRef::contiguous(v.data(), dt, {batch, kHkv, len, kDim})))
    return std::move(e);
  QueryBuffers qo(batch, dtype, rng);
  const rt::BufferRef &qRef = qo.qRef, &oRef = qo.oRef;
  kv::CacheAttentionOptions opts;
  opts.mask.causal = true;
  llvm::Error runError = llvm::Error::success();
  auto step = [&] {
    if (llvm::Error e = steps.decodeStep(seqs, qRef, oRef, opts))
      runError = std::move(e);
  };
  double copy =
      bench::copyGBps(int64_t(256) << 20, runtime.numThreads(), cpuTime);
  double read =
      bench::readGBps(int64_t(256) << 20, runtime.numThreads(), cpuTime);
  double ms =
      cpuTime ? bench::minCpuMs(step, reps) : bench::medianMs(step, reps);
  if (runError)
    return std::move(runError);
  double elt = dtype == ElementType::F32 ? 4 : 2;
  double bytes = double(batch) * len * kHkv * 2 * kDim * elt +
                 2.0 * batch * kHq * kDim * elt;
  return Row{ms, bytes / ms / 1e6, copy, read};
}

/// Append (the case's rows, one prefill step, timed with the truncate that
/// undoes it) and decode, without and with RoPE.
struct RopeRow {
  double appendMs, appendRopeMs, decodeMs, decodeRopeMs;
};

llvm::Expected<RopeRow> ropeCase(rt::Runtime &runtime, int64_t batch,
                                 int64_t len, ElementType dtype,
                                 PageLayout layout) {
  std::mt19937 rng(7);
  std::vector<kv::SeqId> seqs;
  auto cache = makeCache(batch, len, dtype, layout, seqs);
  if (!cache)
    return cache.takeError();
  kv::KvStepper steps(**cache, runtime);
  rt::DType dt = toDType(dtype);
  int64_t rows = batch * kHkv * len * kDim;
  auto k = randomBuffer(rows, dtype, rng), v = randomBuffer(rows, dtype, rng);
  auto kRef = rt::BufferRef::contiguous(k.data(), dt, {batch, kHkv, len, kDim});
  auto vRef = rt::BufferRef::contiguous(v.data(), dt, {batch, kHkv, len, kDim});
  std::vector<float> cosT(len * kDim / 2), sinT(cosT.size());
  for (int64_t p = 0; p < len; ++p)
    for (int64_t i = 0; i < kDim / 2; ++i) {
      double angle = p * std::pow(10000.0, -2.0 * i / kDim);
      cosT[p * kDim / 2 + i] = std::cos(angle);
      sinT[p * kDim / 2 + i] = std::sin(angle);
    }
  kv::RotaryEmbedding table{
      RopeStyle::NeoX,
      rt::BufferRef::contiguous(cosT.data(), rt::DType::F32, {len, kDim / 2}),
      rt::BufferRef::contiguous(sinT.data(), rt::DType::F32, {len, kDim / 2})};
  QueryBuffers qo(batch, dtype, rng);
  const rt::BufferRef &qRef = qo.qRef, &oRef = qo.oRef;
  kv::CacheAttentionOptions opts;
  opts.mask.causal = true;
  llvm::Error runError = llvm::Error::success();
  auto keep = [&](llvm::Error e) {
    if (e && !runError)
      runError = std::move(e);
    else
      llvm::consumeError(std::move(e));
  };
  auto time = [&](const std::function<void()> &fn) {
    return cpuTime ? bench::minCpuMs(fn, reps) : bench::medianMs(fn, reps);
  };
  auto appendWith = [&](const kv::RotaryEmbedding *r) {
    return [&, r] {
      keep(steps.appendStep(seqs, kRef, vRef, {}, r));
      for (kv::SeqId id : seqs)
        keep((*cache)->truncate(id, 0));
    };
  };
  RopeRow row;
  row.appendMs = time(appendWith(nullptr));
  row.appendRopeMs = time(appendWith(&table));
  keep(steps.appendStep(seqs, kRef, vRef, {}, &table));
  row.decodeMs = time([&] { keep(steps.decodeStep(seqs, qRef, oRef, opts)); });
  row.decodeRopeMs = time([&] {
    keep(steps.decodeStep(seqs, qRef, oRef, opts, nullptr, nullptr, &table));
  });
  if (runError)
    return std::move(runError);
  return row;
}

/// --rope: the append and decode times without and with RoPE.
int runRopeCases(rt::Runtime &runtime, llvm::ArrayRef<ElementType> types,
                 llvm::ArrayRef<PageLayout> pageLayouts,
                 llvm::ArrayRef<std::pair<int64_t, int64_t>> cases) {
  std::printf("RoPE (NeoX, rotary dim %lld, f32 tables) on append and on "
              "the query; GQA hq=%lld hkv=%lld d=%lld, paged (page %d), %u "
              "threads\n",
              (long long)kDim, (long long)kHq, (long long)kHkv, (long long)kDim,
              pageSize.getValue(), runtime.numThreads());
  std::printf("%-6s %-6s %5s %7s %11s %11s %7s %11s %11s %7s\n", "layout",
              "dtype", "batch", "kv", "append ms", "+rope ms", "ratio",
              "decode ms", "+rope ms", "ratio");
  for (ElementType dtype : types)
    for (PageLayout layout : pageLayouts)
      for (auto [batch, len] : cases) {
        auto r = ropeCase(runtime, batch, len, dtype, layout);
        if (!r) {
          llvm::errs() << "rope b=" << batch << " kv=" << len << ": "
                       << llvm::toString(r.takeError()) << "\n";
          return 1;
        }
        std::printf("%-6s %-6s %5lld %7lld %11.3f %11.3f %7.2f %11.3f %11.3f "
                    "%7.2f\n",
                    stringifyPageLayout(layout).str().c_str(),
                    stringifyElementType(dtype), (long long)batch,
                    (long long)len, r->appendMs, r->appendRopeMs,
                    r->appendRopeMs / r->appendMs, r->decodeMs, r->decodeRopeMs,
                    r->decodeRopeMs / r->decodeMs);
      }
  return 0;
}

} // namespace

namespace {

struct Case {
  int64_t batch, len;
};

struct Result {
  PageLayout layout;
  ElementType dtype;
  Case c;
  Row row;
};

/// The attention one decode step computes, for its FLOPs and "shape".
AttentionSpec decodeSpec(const Result &r) {
  AttentionSpec s;
  s.batch = r.c.batch;
  s.numHeads = kHq;
  s.numKvHeads = kHkv;
  s.queryLen = 1;
  s.kvLen = r.c.len;
  s.headDim = kDim;
  s.dtype = r.dtype;
  s.mask.causal = true;
  s.mask.qOffset = r.c.len - 1; // the query sits at the end of its sequence
  return s;
}

double usPer1kTokens(const Result &r) {
  return 1000.0 * r.row.ms / (r.c.batch * r.c.len / 1000.0);
}

void printTable(unsigned nThreads, double read, double copy,
                const std::vector<Result> &results) {
  std::printf("threads %u; read-only stream 256 MiB: %.1f GB/s; memcpy 256 "
              "MiB: %.1f GB/s (read + write)\n",
              nThreads, read, copy);
  std::printf("decode GQA hq=%lld hkv=%lld d=%lld, paged cache (page %d), "
              "causal, Sq=1\n",
              (long long)kHq, (long long)kHkv, (long long)kDim,
              pageSize.getValue());
  std::printf("%-6s %-6s %5s %7s %10s %9s %8s %8s %8s %8s %12s\n", "layout",
              "dtype", "batch", "kv", "ms", "GB/s", "read", "/read", "copy",
              "/copy", "us/1k tokens");
  for (const Result &r : results)
    std::printf("%-6s %-6s %5lld %7lld %10.3f %9.2f %8.1f %8.2f %8.1f %8.2f "
                "%12.2f\n",
                stringifyPageLayout(r.layout).str().c_str(),
                stringifyElementType(r.dtype), (long long)r.c.batch,
                (long long)r.c.len, r.row.ms, r.row.gbps, r.row.read,
                r.row.gbps / r.row.read, r.row.copy, r.row.gbps / r.row.copy,
                usPer1kTokens(r));
}

/// The machine, its two streams, and per case attn plus the read-only
/// stream and memcpy measured right before it (same case name).
void emitJson(unsigned nThreads, double read, double copy,
              const std::vector<Result> &results) {
  bench::emitJsonLine({{"impl", "attn"},
                       {"case", "device"},
                       {"device", bench::cpuDeviceName(nThreads)},
                       {"threads", nThreads}});
  bench::emitJsonLine({{"impl", "ceiling"},
                       {"case", "ceiling_read_stream"},
                       {"kind", "ceiling"},
                       {"label", "read-only stream 256 MiB"},
                       {"gbps", read}});
  bench::emitJsonLine({{"impl", "ceiling"},
                       {"case", "ceiling_memcpy"},
                       {"kind", "ceiling"},
                       {"label", "memcpy 256 MiB (read + write)"},
                       {"gbps", copy}});
  for (const Result &r : results) {
    std::string layout = stringifyPageLayout(r.layout).str();
    std::string name =
        llvm::formatv("decode_{0}_{1}_b{2}_kv{3}", layout,
                      stringifyElementType(r.dtype), r.c.batch, r.c.len);
    AttentionSpec spec = decodeSpec(r);
    bench::emitJsonLine({{"impl", "attn"},
                         {"case", name},
                         {"kind", "decode"},
                         {"ms", r.row.ms},
                         {"shape", bench::shapeJson(spec)},
                         {"flops", spec.flops()},
                         {"bytes", r.row.gbps * r.row.ms * 1e6},
                         {"gbps", r.row.gbps},
                         {"of_read", r.row.gbps / r.row.read},
                         {"of_copy", r.row.gbps / r.row.copy},
                         {"us_per_1k_tokens", usPer1kTokens(r)},
                         {"layout", layout},
                         {"page_size", pageSize.getValue()},
                         {"threads", nThreads}});
    bench::emitJsonLine(
        {{"impl", "read-stream"}, {"case", name}, {"gbps", r.row.read}});
    bench::emitJsonLine(
        {{"impl", "memcpy"}, {"case", name}, {"gbps", r.row.copy}});
  }
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv, "attn CPU decode benchmark\n");
  unsigned nThreads = threads ? threads : std::thread::hardware_concurrency();
  double read = bench::readGBps(int64_t(256) << 20, nThreads, cpuTime);
  double copy = bench::copyGBps(int64_t(256) << 20, nThreads, cpuTime);
  rt::RuntimeOptions ro;
  ro.numThreads = nThreads;
  rt::Runtime runtime(ro);
  std::vector<Case> cases = {
      {1, 4096}, {16, 4096}, {1, 1024}, {1, 16384}, {1, 65536}};
  if (quick)
    cases = {{1, 256}, {4, 512}};
  if (!lengths.empty()) {
    cases.clear();
    std::vector<int64_t> bs(batches.begin(), batches.end());
    if (bs.empty())
      bs = {1};
    for (int64_t bsz : bs)
      for (int64_t len : lengths)
        cases.push_back({bsz, len});
  }
  std::vector<PageLayout> layoutList;
  for (const std::string &l : layouts.empty()
                                  ? std::vector<std::string>{"nhd", "hnd"}
                                  : std::vector<std::string>(layouts)) {
    auto parsed = symbolizePageLayout(l);
    if (!parsed) {
      llvm::errs() << "unknown --layout " << l << " (nhd, hnd)\n";
      return 1;
    }
    layoutList.push_back(*parsed);
  }
  std::vector<ElementType> typeList;
  for (const std::string &t : dtypes.empty()
                                  ? std::vector<std::string>{"f32", "bf16"}
                                  : std::vector<std::string>(dtypes)) {
    auto parsed = parseElementType(t);
    if (!parsed) {
      llvm::errs() << "unknown --dtype " << t << "\n";
      return 1;
    }
    typeList.push_back(*parsed);
  }
  if (rope) {
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (const Case &c : cases)
      pairs.push_back({c.batch, c.len});
    return runRopeCases(runtime, typeList, layoutList, pairs);
  }
  std::vector<Result> results;
  bench::Progress progress(
      int(typeList.size() * layoutList.size() * cases.size()));
  for (ElementType dtype : typeList) {
    for (PageLayout layout : layoutList) {
      for (const Case &c : cases) {
        progress.next(llvm::formatv("decode {0} {1} b={2} kv={3}",
                                    stringifyPageLayout(layout),
                                    stringifyElementType(dtype), c.batch, c.len)
                          .str());
        auto row = decodeCase(runtime, c.batch, c.len, dtype, layout);
        if (!row) {
          llvm::errs() << "decode b=" << c.batch << " kv=" << c.len << ": "
                       << llvm::toString(row.takeError()) << "\n";
          return 1;
        }
        results.push_back({layout, dtype, c, *row});
      }
    }
  }
  if (json)
    emitJson(nThreads, read, copy, results);
  else
    printTable(nThreads, read, copy, results);
  return 0;
}
