//===- KernelStore.cpp - compiled kernels in the disk cache ---------------===//
//
// What a disk cache entry holds (DiskCache.h frames it):
//
//   CPU  (kind 1): compile stats | buffer list | work items | scratch bytes
//                  per item | the relocatable object (JitCompiler.h)
//   CUDA (kind 2): compile stats | buffer list | binary, format, chip |
//                  scratch sizes | launches (kernel, grid, block, shared
//                  bytes, parameters) | tensor maps
//
// The entry's key is the runtime's in-memory key (target, options, spec or
// kernel text) behind everything else that changes the code: the entry
// format, attn's version and source id (cmake/AttnBuildId.cmake), LLVM's
// version, the host CPU and its features, the CUDA toolkit override.
// The signature is not stored whole: the caller recomputes it from what it
// asked for (cheap), and the stored buffer list must equal it, so an entry
// whose ABI differs is never run.
//
//===----------------------------------------------------------------------===//
#include "runtime/KernelStore.h"
#include "runtime/DiskCache.h"
#include "runtime/GpuKernel.h"
#include "runtime/JitCompiler.h"
#include "runtime/KernelBuilder.h"
#include "runtime/Runtime.h"

#include "runtime/BuildId.inc"

#include "llvm/ADT/StringMap.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

constexpr uint32_t kCpuKind = 1;
constexpr uint32_t kCudaKind = 2;

/// Everything outside the runtime's key that changes the compiled code.
const std::string &environmentKey() {
  static const std::string key = [] {
    std::string k = "attn-kernel-cache " +
                    std::to_string(DiskCache::kFormatVersion) + "|attn " +
                    ATTN_VERSION_STRING + " " + ATTN_GIT_HASH + " src " +
                    ATTN_SOURCE_ID + "|llvm " LLVM_VERSION_STRING "|host " +
                    llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    std::vector<std::string> on;
    for (const auto &f : features)
      if (f.second)
        on.push_back(f.first().str());
    std::sort(on.begin(), on.end());
    for (const std::string &f : on)
      k += " +" + f;
    if (const char *tk = std::getenv("ATTN_CUDA_TOOLKIT"))
      k += std::string("|toolkit ") + tk;
    return k + "|";
  }();
  return key;
}

void writeStats(PayloadWriter &w, const CompileStats &s) {
  w.f64(s.buildMs);
  w.f64(s.lowerMs);
  w.f64(s.jitMs);
  w.f64(s.optMs);
  w.f64(s.codegenMs);
}

CompileStats readStats(PayloadReader &r) {
  CompileStats s;
  s.buildMs = r.f64();
  s.lowerMs = r.f64();
  s.jitMs = r.f64();
  s.optMs = r.f64();
  s.codegenMs = r.f64();
  return s;
}

void writeArgs(PayloadWriter &w, const KernelSignature &sig) {
  w.u64(sig.args.size());
  for (const ArgInfo &a : sig.args) {
    w.u32(static_cast<uint32_t>(a.role));
    w.u32(static_cast<uint32_t>(a.dtype));
    w.u64(a.shape.size());
    for (int64_t d : a.shape)
      w.i64(d);
    w.u32(a.unitInnerStride);
    w.u32(a.isOutput);
  }
}

/// True when the stored buffer list is exactly `sig`'s.
bool argsMatch(PayloadReader &r, const KernelSignature &sig) {
  if (r.u64() != sig.args.size())
    return false;
  for (const ArgInfo &a : sig.args) {
    bool same = r.u32() == static_cast<uint32_t>(a.role);
    same &= r.u32() == static_cast<uint32_t>(a.dtype);
    if (r.u64() != a.shape.size())
      return false;
    for (int64_t d : a.shape)
      same &= r.i64() == d;
    same &= r.u32() == a.unitInnerStride;
    same &= r.u32() == a.isOutput;
    if (!same || !r.ok())
      return false;
  }
  return r.ok();
}

template <typename T> void writeList(PayloadWriter &w, const T &list) {
  w.u64(list.size());
  for (auto v : list)
    w.u64(static_cast<uint64_t>(v));
}

template <typename T> bool readList(PayloadReader &r, std::vector<T> &list) {
  uint64_t n = r.u64();
  if (n > 64) // no launch has more dims, sizes or scratch buffers
    return false;
  list.resize(n);
  for (T &v : list)
    v = static_cast<T>(r.u64());
  return r.ok();
}

} // namespace

std::string mlir::attn::rt::diskCacheKey(llvm::StringRef key) {
  return environmentKey() + key.str();
}

void mlir::attn::rt::writeCpuCode(PayloadWriter &w, const CpuKernelCode &c) {
  w.i64(c.workItems);
  w.i64(c.scratchBytesPerItem);
  w.bytes(c.object);
}

std::optional<CpuKernelCode> mlir::attn::rt::readCpuCode(PayloadReader &r,
                                                         llvm::StringRef name) {
  int64_t workItems = r.i64();
  int64_t scratchBytes = r.i64();
  std::string object = r.bytes();
  if (!r.ok() || !r.atEnd())
    return std::nullopt;
  auto code = loadKernelObject(object, name);
  if (!code) {
    // An object that does not link here (it passed the checksum, so this
    // is a stale or foreign build): compile instead.
    llvm::consumeError(code.takeError());
    return std::nullopt;
  }
  if (code->workItems != workItems || code->scratchBytesPerItem != scratchBytes)
    return std::nullopt;
  return std::move(*code);
}

void mlir::attn::rt::writeGpuCode(PayloadWriter &w, const GpuKernelCode &c) {
  w.bytes(c.binary);
  w.bytes(c.format);
  w.bytes(c.chip);
  writeList(w, c.scratchBytes);
  w.u64(c.scratchExprs.size());
  for (int e : c.scratchExprs)
    w.i64(e);
  w.u64(c.launches.size());
  for (const GpuLaunch &l : c.launches) {
    w.bytes(l.kernel);
    for (unsigned v : l.grid)
      w.u32(v);
    for (unsigned v : l.block)
      w.u32(v);
    for (int v : l.gridExpr)
      w.i64(v);
    w.i64(l.condExpr);
    w.u32(l.sharedBytes);
    w.u64(l.params.size());
    for (const GpuParam &p : l.params) {
      w.u32(static_cast<uint32_t>(p.kind));
      w.i64(p.index);
      w.u64(p.bits);
    }
  }
  w.u64(c.tensorMaps.size());
  for (const GpuTensorMap &m : c.tensorMaps) {
    w.i64(m.scratch);
    w.i64(m.source);
    w.bytes(m.role);
    w.u32(static_cast<uint32_t>(m.dataType));
    writeList(w, m.dims);
    writeList(w, m.strides);
    writeList(w, m.box);
    w.u32(static_cast<uint32_t>(m.swizzle));
  }
  w.u64(c.exprs.size());
  for (const GpuExpr &e : c.exprs) {
    w.u32(static_cast<uint32_t>(e.op));
    w.i64(e.value);
    w.i64(e.dim);
    w.i64(e.lhs);
    w.i64(e.rhs);
  }
  w.u64(c.bufferNames.size());
  for (const std::string &n : c.bufferNames)
    w.bytes(n);
  w.u64(c.checks.size());
  for (const GpuCheck &check : c.checks) {
    w.i64(check.node);
    w.bytes(check.message);
  }
}

namespace {
/// The run-time size expressions: nodes refer to earlier nodes and to
/// existing buffers, and every launch's references resolve.
bool readGpuExprs(PayloadReader &r, GpuKernelCode &c, size_t numBuffers) {
  uint64_t n = r.u64();
  if (!r.ok() || n > 4096)
    return false;
  c.exprs.resize(n);
  for (auto [i, e] : llvm::enumerate(c.exprs)) {
    uint32_t op = r.u32();
    if (op > static_cast<uint32_t>(GpuExpr::Op::KvSplits))
      return false;
    e.op = static_cast<GpuExpr::Op>(op);
    e.value = r.i64();
    e.dim = r.i64();
    e.lhs = int(r.i64());
    e.rhs = int(r.i64());
    bool binary = e.op != GpuExpr::Op::Const && e.op != GpuExpr::Op::Dim;
    if ((binary && (e.lhs < 0 || e.rhs < 0 || size_t(e.lhs) >= i ||
                    size_t(e.rhs) >= i)) ||
        (e.op == GpuExpr::Op::Dim &&
         (e.value < 0 || size_t(e.value) >= numBuffers || e.dim < 0)))
      return false;
  }
  for (int s : c.scratchExprs)
    if (s < -1 || s >= int(n))
      return false;
  for (const GpuLaunch &l : c.launches) {
    for (int g : l.gridExpr)
      if (g < -1 || g >= int(n))
        return false;
    if (l.condExpr < -1 || l.condExpr >= int(n))
      return false;
    for (const GpuParam &p : l.params)
      if (p.kind == GpuParam::Kind::Expr &&
          (p.index < 0 || uint64_t(p.index) >= n))
        return false;
  }
  uint64_t names = r.u64();
  if (!r.ok() || names > numBuffers)
    return false;
  c.bufferNames.resize(names);
  for (std::string &name : c.bufferNames)
    name = r.bytes();
  uint64_t checks = r.u64();
  if (!r.ok() || checks > 4096)
    return false;
  c.checks.resize(checks);
  for (GpuCheck &check : c.checks) {
    check.node = int(r.i64());
    check.message = r.bytes();
    // A check is a comparison node.
    if (!r.ok() || check.node < 0 || uint64_t(check.node) >= n ||
        c.exprs[check.node].op < GpuExpr::Op::CmpEq ||
        c.exprs[check.node].op > GpuExpr::Op::CmpSge)
      return false;
  }
  return r.ok();
}
} // namespace

bool mlir::attn::rt::readGpuCode(PayloadReader &r, GpuKernelCode &c,
                                 size_t numBuffers) {
  c.binary = r.bytes();
  c.format = r.bytes();
  c.chip = r.bytes();
  if (!readList(r, c.scratchBytes))
    return false;
  uint64_t sized = r.u64();
  if (!r.ok() || sized > c.scratchBytes.size())
    return false;
  c.scratchExprs.resize(sized);
  for (int &e : c.scratchExprs)
    e = int(r.i64()); // checked against the expressions below
  uint64_t launches = r.u64();
  if (!r.ok() || launches > 64)
    return false;
  c.launches.resize(launches);
  for (GpuLaunch &l : c.launches) {
    l.kernel = r.bytes();
    for (unsigned &v : l.grid)
      v = r.u32();
    for (unsigned &v : l.block)
      v = r.u32();
    for (int &v : l.gridExpr)
      v = int(r.i64()); // checked against the expressions below
    l.condExpr = int(r.i64());
    l.sharedBytes = r.u32();
    uint64_t params = r.u64();
    if (!r.ok() || params > 256)
      return false;
    l.params.resize(params);
    for (GpuParam &p : l.params) {
      uint32_t kind = r.u32();
      if (kind > static_cast<uint32_t>(GpuParam::Kind::Expr))
        return false;
      p.kind = static_cast<GpuParam::Kind>(kind);
      p.index = r.i64();
      p.bits = r.u64();
      // Indices select buffers at launch: they must exist.
      if ((p.kind == GpuParam::Kind::Buffer &&
           (p.index < 0 || size_t(p.index) >= numBuffers)) ||
          (p.kind == GpuParam::Kind::Scratch &&
           (p.index < 0 || size_t(p.index) >= c.scratchBytes.size())))
        return false;
    }
  }
  uint64_t maps = r.u64();
  if (!r.ok() || maps > 64)
    return false;
  c.tensorMaps.resize(maps);
  for (GpuTensorMap &m : c.tensorMaps) {
    m.scratch = r.i64();
    m.source = r.i64();
    m.role = r.bytes();
    m.dataType = static_cast<int>(r.u32());
    if (!readList(r, m.dims) || !readList(r, m.strides) || !readList(r, m.box))
      return false;
    m.swizzle = static_cast<int>(r.u32());
    if (m.scratch < 0 || size_t(m.scratch) >= c.scratchBytes.size() ||
        m.source < 0 || size_t(m.source) >= numBuffers)
      return false;
  }
  return readGpuExprs(r, c, numBuffers) && r.ok() && r.atEnd();
}

namespace {
double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}
} // namespace

std::string Runtime::diskCacheDir() const {
  return disk ? disk->dir() : std::string();
}

llvm::Expected<KernelRef> Runtime::loadOrCompile(
    const std::string &key, llvm::function_ref<KernelSignature()> signature,
    llvm::function_ref<llvm::Expected<KernelRef>()> compileFn) {
  if (KernelRef kernel = loadFromDisk(key, signature)) {
    ++diskHits;
    return kernel;
  }
  ++compiles;
  llvm::Expected<KernelRef> result = compileFn();
  if (result)
    storeOnDisk(key, **result);
  return result;
}

KernelRef
Runtime::loadFromDisk(const std::string &key,
                      llvm::function_ref<KernelSignature()> signature) {
  if (!disk)
    return nullptr;
  auto start = std::chrono::steady_clock::now();
  std::string fullKey = diskCacheKey(key);
  uint32_t kind = 0;
  std::optional<std::string> payload = disk->load(fullKey, kind);
  if (!payload || (kind != kCpuKind && kind != kCudaKind))
    return nullptr;
  PayloadReader r(*payload);
  CompileStats stats = readStats(r);
  stats.fromDisk = true;
  KernelSignature sig = signature();
  if (!argsMatch(r, sig))
    return nullptr;
  if (kind == kCudaKind) {
    auto code = std::make_unique<GpuKernelCode>();
    if (!readGpuCode(r, *code, sig.args.size()))
      return nullptr;
    stats.loadMs = msSince(start);
    return KernelRef(new Kernel(std::move(sig), std::move(code), stats));
  }
  std::optional<CpuKernelCode> code = readCpuCode(r, kKernelName);
  if (!code)
    return nullptr;
  stats.loadMs = msSince(start);
  return KernelRef(new Kernel(std::move(sig),
                              std::make_unique<CpuKernelCode>(std::move(*code)),
                              stats, pool));
}

void Runtime::storeOnDisk(const std::string &key, const Kernel &kernel) {
  if (!disk)
    return;
  PayloadWriter w;
  writeStats(w, kernel.stats);
  writeArgs(w, kernel.sig);
  uint32_t kind;
  if (kernel.gpuCode) {
    kind = kCudaKind;
    writeGpuCode(w, *kernel.gpuCode);
  } else {
    kind = kCpuKind;
    writeCpuCode(w, *kernel.code);
  }
  // A failed write leaves the cache as it was; the kernel is fine.
  (void)disk->store(diskCacheKey(key), kind, w.take());
}
