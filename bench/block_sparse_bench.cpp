//===- block_sparse_bench.cpp - block-sparse masks: time vs density -------===//
//
// One run times, on the same threads and inputs: the dense kernel (no
// mask), the block-sparse kernel (attn.attention's block_mask: each query
// block lists a random `density` share of the KV blocks), and the dense
// bool_mask path given the same pattern expanded to [1, 1, Sq, Skv]. The
// block-sparse kernel iterates only the listed blocks, so its time should
// follow the density; the bool-mask kernel visits every KV tile whatever
// the pattern. Prints one table (ms and the ratio to the dense kernel).
//
//===----------------------------------------------------------------------===//
#include "bench/BenchUtil.h"
#include "bench/BlockSparseLists.h"
#include "runtime/HostBuffers.h"
#include "runtime/Runtime.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

using namespace mlir::attn;
namespace bench = attn::bench;

static llvm::cl::opt<unsigned> threads("bench-threads",
                                       llvm::cl::desc("threads (0: all)"),
                                       llvm::cl::init(1));
static llvm::cl::opt<int> reps("bench-reps", llvm::cl::desc("timed runs"),
                               llvm::cl::init(3));
static llvm::cl::opt<std::string>
    shape("shape", llvm::cl::desc("spec shorthand without blocks="),
          llvm::cl::init("gqa:b=1,hq=8,hkv=2,s=2048,d=64"));
static llvm::cl::opt<int64_t>
    block("block", llvm::cl::desc("q and kv block size"), llvm::cl::init(128));
static llvm::cl::opt<bool>
    cpuTime("cpu-time",
            llvm::cl::desc("least process CPU time of the runs instead of the "
                           "median wall time (for a shared machine)"),
            llvm::cl::init(true));
static llvm::cl::opt<bool>
    boolMask("bool-mask", llvm::cl::desc("also time the dense bool_mask path"),
             llvm::cl::init(true));

namespace {

[[noreturn]] void die(const llvm::Twine &msg) {
  llvm::errs() << "attn-bench-block-sparse: " << msg << "\n";
  std::exit(1);
}

double timeMs(const std::function<void()> &fn) {
  return cpuTime ? bench::minCpuMs(fn, reps) / std::max(1u, threads.getValue())
                 : bench::medianMs(fn, reps);
}

std::string boolMaskMlir(const AttentionSpec &s) {
  auto t = [&](llvm::ArrayRef<int64_t> sh, const char *elt) {
    std::string out = "tensor<";
    for (int64_t d : sh)
      out += std::to_string(d) + "x";
    return out + elt + ">";
  };
  const char *e = stringifyElementType(s.dtype);
  std::string q = t(s.queryShape(), e), k = t(s.keyShape(), e),
              v = t(s.valueShape(), e), o = t(s.outputShape(), e),
              m = t({1, 1, s.queryLen, s.kvLen}, "i1");
  return llvm::formatv("func.func @f(%q: {0}, %k: {1}, %v: {2}, %m: {3}) -> "
                       "{4} {{\n  %o = attn.attention %q, %k, %v bool_mask(%m "
                       ": {3}) : {0}, {1}, {2} -> {4}\n  return %o : {4}\n}\n",
                       q, k, v, m, o)
      .str();
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "attn block-sparse time vs density\n");
  std::string error;
  auto parsed = parseSpecShorthand(shape, error);
  if (!parsed)
    die("--shape: " + error);
  AttentionSpec dense = *parsed;
  AttentionSpec sparse = dense;
  sparse.blockSparse = BlockSparseSpec{block, block, false, false, 0};
  rt::RuntimeOptions ro;
  ro.numThreads = threads;
  rt::Runtime runtime(ro);
  auto denseK = runtime.compile(dense);
  auto sparseK = runtime.compile(sparse);
  if (!denseK || !sparseK)
    die("compile: " +
        llvm::toString(denseK ? sparseK.takeError() : denseK.takeError()));
  rt::KernelRef maskK;
  if (boolMask) {
    auto k = runtime.compileMlir(boolMaskMlir(dense));
    if (!k)
      die("compile (bool_mask): " + llvm::toString(k.takeError()));
    maskK = *k;
  }
  rt::HostBuffers buffers((*sparseK)->signature(), rt::FillOptions{7});
  rt::AttentionArgs denseArgs = buffers.args();
  denseArgs.kvNumBlocks.reset();
  denseArgs.kvIndices.reset();
  auto run = [&](const rt::KernelRef &k, const rt::AttentionArgs &a) {
    return timeMs([&] {
      if (llvm::Error e = k->run(a))
        die(llvm::toString(std::move(e)));
    });
  };

  int64_t qBlocks = (dense.queryLen + block - 1) / block;
  int64_t kvBlocks = (dense.kvLen + block - 1) / block;
  llvm::outs() << llvm::formatv(
      "# {0}, blocks {1}x{1} ({2} x {3}), {4} thread(s), {5} of {6} runs\n",
      dense.key(), block, qBlocks, kvBlocks, threads.getValue(),
      cpuTime ? "least CPU time" : "median wall time", reps.getValue());
  double denseMs = run(*denseK, denseArgs);
  llvm::outs() << llvm::formatv("{0,-12} {1,8} {2,10} {3,9}\n", "kernel",
                                "visible", "ms", "vs dense");
  llvm::outs() << llvm::formatv("{0,-12} {1,7}% {2,10:f2} {3,9:f3}\n", "dense",
                                100, denseMs, 1.0);
  std::vector<uint8_t> mask(dense.queryLen * dense.kvLen);
  for (double density : {1.0, 0.5, 0.25, 0.1}) {
    std::vector<int32_t> counts, indices;
    bench::makeBlockLists(qBlocks, kvBlocks, density, counts, indices);
    buffers.setBlockMask(counts, indices);
    double ms = run(*sparseK, buffers.args());
    int pct = static_cast<int>(std::lround(100.0 * counts[0] / kvBlocks));
    llvm::outs() << llvm::formatv("{0,-12} {1,7}% {2,10:f2} {3,9:f3}\n",
                                  "block-sparse", pct, ms, ms / denseMs);
    if (!maskK)
      continue;
    std::fill(mask.begin(), mask.end(), 0);
    for (int64_t q = 0; q < dense.queryLen; ++q)
      for (int32_t i = 0; i < counts[q / block]; ++i) {
        int64_t blk = indices[(q / block) * kvBlocks + i];
        for (int64_t j = blk * block;
             j < std::min<int64_t>(dense.kvLen, (blk + 1) * block); ++j)
          mask[q * dense.kvLen + j] = 1;
      }
    rt::AttentionArgs maskArgs = denseArgs;
    maskArgs.boolMask = rt::BufferRef::contiguous(
        mask.data(), rt::DType::I1, {1, 1, dense.queryLen, dense.kvLen});
    double maskMs = run(maskK, maskArgs);
    llvm::outs() << llvm::formatv("{0,-12} {1,7}% {2,10:f2} {3,9:f3}\n",
                                  "bool_mask", pct, maskMs, maskMs / denseMs);
  }
  return 0;
}
