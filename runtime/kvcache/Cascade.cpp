//===- Cascade.cpp - merging attention states, cascade decode -------------===//
#include "runtime/kvcache/Cascade.h"
#include "runtime/AttentionArgs.h"
#include "runtime/Errors.h"

#include <cmath>
#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;
using rt::makeError;

namespace {

/// The kernels read rows with unit inner stride (a size-1 dim never moves).
llvm::Error checkRows(const BufferRef &b, llvm::StringRef what,
                      llvm::StringRef name) {
  auto st = b.effectiveStrides();
  if (!st.empty() && st.back() != 1 && b.shape.back() != 1)
    return makeError(what + ": " + name + " has innermost stride " +
                     llvm::Twine(st.back()) +
                     ", the kernels need 1 (contiguous rows)");
  return llvm::Error::success();
}

/// Shapes, dtypes and aliasing of a merge; on success `dims` is
/// {N, B, H, S, Dv}.
llvm::Error checkMerge(const BufferRef &states, const BufferRef &stateLse,
                       const BufferRef &output, const BufferRef *lse,
                       llvm::SmallVectorImpl<int64_t> &dims) {
  const char *what = "merge_states";
  if (states.shape.size() != 5)
    return makeError(llvm::Twine(what) +
                     ": states must have rank 5 [N, B, "
                     "H, S, Dv], got " +
                     states.shapeString());
  dims.assign(states.shape.begin(), states.shape.end());
  if (dims[0] < 1)
    return makeError(llvm::Twine(what) + ": needs at least one state (N >= 1)");
  if (!isFloatDType(states.dtype))
    return makeError(llvm::Twine(what) + ": states must be f32, f16 or bf16");
  int64_t n = dims[0], b = dims[1], h = dims[2], s = dims[3], dv = dims[4];
  if (llvm::Error e = checkBuffer(states, what, "states", states.dtype,
                                  states.shape, "[N, B, H, S, Dv]"))
    return e;
  if (llvm::Error e = checkBuffer(stateLse, what, "state_lse", DType::F32,
                                  {n, b, h, s}, "[N, B, H, S]"))
    return e;
  if (llvm::Error e =
          checkBuffer(output, what, "output", states.dtype, {b, h, s, dv},
                      "[B, H, S, Dv] in the states' type"))
    return e;
  if (lse)
    if (llvm::Error e =
            checkBuffer(*lse, what, "lse", DType::F32, {b, h, s}, "[B, H, S]"))
      return e;
  for (auto [buf, name] : {std::pair{&states, "states"},
                           {&stateLse, "state_lse"},
                           {&output, "output"},
                           {lse, "lse"}})
    if (buf)
      if (llvm::Error e = checkRows(*buf, what, name))
        return e;
  return rt::checkDisjoint({{"output", &output, true},
                            {"lse", lse, true},
                            {"states", &states, false},
                            {"state_lse", &stateLse, false}},
                           what);
}

KernelBufferType stridedType(const BufferRef &b) {
  return {b.dtype, b.shape, /*strided=*/true};
}

/// The GPU merge: dense buffers of the call's shapes (the kernel is
/// compiled per shape, like the CPU one).
llvm::Error mergeStatesOnDevice(CacheKernels &kernels, const BufferRef &states,
                                const BufferRef &stateLse,
                                const BufferRef &output, const BufferRef *lse,
                                const rt::CompileOptions &gpu) {
  llvm::SmallVector<KernelBufferType, 4> types;
  llvm::SmallVector<BufferRef, 4> buffers;
  llvm::SmallVector<rt::GpuBufferUse, 4> uses;
  for (auto [b, use] : {std::pair{&states, rt::GpuBufferUse{"states", false}},
                        {&stateLse, {"state_lse", false}},
                        {&output, {"output", true}},
                        {lse, {"lse", true}}}) {
    if (!b)
      continue;
    types.push_back({b->dtype, b->shape, /*strided=*/false});
    buffers.push_back(*b);
    uses.push_back(use);
  }
  auto kernel = kernels.getCuda(
      "merge_states", mergeStatesKernelSource(types, lse), types, gpu);
  if (!kernel)
    return kernel.takeError();
  return (*kernel)->run(buffers, uses);
}

} // namespace

llvm::Error mlir::attn::kv::mergeStates(
    CacheKernels &kernels, rt::ThreadPool &pool, const BufferRef &states,
    const BufferRef &stateLse, const BufferRef &output, const BufferRef *lse,
    const CacheKernelOptions &options, const rt::CompileOptions &gpu) {
  llvm::SmallVector<int64_t, 5> dims;
  if (llvm::Error e = checkMerge(states, stateLse, output, lse, dims))
    return e;
  bool onDevice = false;
  for (const BufferRef *b : {&states, &stateLse, &output, lse})
    onDevice |= b && b->space == rt::MemorySpace::Device;
  if (onDevice)
    return mergeStatesOnDevice(kernels, states, stateLse, output, lse, gpu);
  llvm::SmallVector<KernelBufferType, 4> types = {
      stridedType(states), stridedType(stateLse), stridedType(output)};
  llvm::SmallVector<BufferRef, 4> buffers = {states, stateLse, output};
  if (lse) {
    types.push_back(stridedType(*lse));
    buffers.push_back(*lse);
  }
  auto kernel = kernels.get("merge_states", mergeStatesKernelSource(types, lse),
                            options, pool.numThreads());
  if (!kernel)
    return kernel.takeError();
  return (*kernel)->run(buffers, pool);
}

llvm::Error mlir::attn::kv::referenceMergeStates(const BufferRef &states,
                                                 const BufferRef &stateLse,
                                                 const BufferRef &output,
                                                 const BufferRef *lse) {
  llvm::SmallVector<int64_t, 5> d;
  if (llvm::Error e = checkMerge(states, stateLse, output, lse, d))
    return e;
  auto ss = states.effectiveStrides(), ls = stateLse.effectiveStrides(),
       os = output.effectiveStrides();
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < d[1]; ++b)
    for (int64_t h = 0; h < d[2]; ++h)
      for (int64_t s = 0; s < d[3]; ++s) {
        auto lseOf = [&](int64_t i) {
          return rt::loadAsDouble(stateLse, i * ls[0] + b * ls[1] + h * ls[2] +
                                                s * ls[3]);
        };
        double m = ninf;
        for (int64_t i = 0; i < d[0]; ++i)
          m = std::max(m, lseOf(i));
        double wsum = 0;
        std::vector<double> acc(d[4], 0.0);
        for (int64_t i = 0; i < d[0] && m != ninf; ++i) {
          double w = std::exp(lseOf(i) - m);
          wsum += w;
          int64_t base = i * ss[0] + b * ss[1] + h * ss[2] + s * ss[3];
          for (int64_t c = 0; c < d[4]; ++c)
            acc[c] += w * rt::loadAsDouble(states, base + c * ss[4]);
        }
        for (int64_t c = 0; c < d[4]; ++c)
          storeFromDouble(output, b * os[0] + h * os[1] + s * os[2] + c * os[3],
                          m == ninf ? 0.0 : acc[c] / wsum);
        if (lse) {
          auto st = lse->effectiveStrides();
          storeFromDouble(*lse, b * st[0] + h * st[1] + s * st[2],
                          m == ninf ? ninf : m + std::log(wsum));
        }
      }
  return llvm::Error::success();
}

CascadeDecoder::CascadeDecoder(KvStepper &suffix, rt::Runtime &runtime)
    : steps(suffix), runtime(runtime) {}

llvm::Error CascadeDecoder::checkInputs(int64_t n, const BufferRef &prefixKey,
                                        const BufferRef &prefixValue,
                                        const BufferRef &query,
                                        const CacheAttentionOptions &o) const {
  const char *what = "cascade decode";
  const KvCache &c = steps.cache();
  int64_t hkv = c.numKvHeads(), d = c.headDim(), dv = c.valueDim();
  int64_t hq = query.shape.size() == 4 ? query.shape[1] : 0;
  if (llvm::Error e =
          checkBuffer(query, what, "query", c.dtype(), {n, hq, 1, d},
                      "[B, Hq, 1, D] in the cache's type"))
    return e;
  int64_t p = prefixKey.shape.size() == 4 ? prefixKey.shape[2] : 0;
  if (llvm::Error e = checkBuffer(prefixKey, what, "prefix key", c.dtype(),
                                  {1, hkv, p, d}, "[1, Hkv, P, D]"))
    return e;
  if (llvm::Error e = checkBuffer(prefixValue, what, "prefix value", c.dtype(),
                                  {1, hkv, p, dv}, "[1, Hkv, P, Dv]"))
    return e;
  const MaskSpec &m = o.mask;
  if (m.hasWindow() || m.dilation != 1 || m.globalTokens != 0 || m.qOffset != 0)
    return makeError(llvm::Twine(what) +
                     ": the mask must be causal or none (every query sees "
                     "the whole prefix); windows, dilation and global tokens "
                     "are not supported");
  for (auto [b, name] : {std::pair{&query, "query"},
                         {&prefixKey, "prefix key"},
                         {&prefixValue, "prefix value"}})
    if (llvm::Error e = checkRows(*b, what, name))
      return e;
  return llvm::Error::success();
}

llvm::Error
CascadeDecoder::decode(llvm::ArrayRef<SeqId> seqs, const BufferRef &prefixKey,
                       const BufferRef &prefixValue, const BufferRef &query,
                       const BufferRef &output,
                       const CacheAttentionOptions &options,
                       const BufferRef *lse, const BufferRef *sinks) {
  int64_t n = static_cast<int64_t>(seqs.size());
  if (llvm::Error e = checkInputs(n, prefixKey, prefixValue, query, options))
    return e;
  const KvCache &c = steps.cache();
  int64_t hq = query.shape[1], d = c.headDim(), dv = c.valueDim();
  if (n == 0)
    return llvm::Error::success();
  DType t = c.dtype();
  int64_t part = n * hq * dv;
  states.resize(2 * part * rt::dtypeBytes(t));
  stateLse.resize(2 * n * hq);
  // Part 0, the prefix: the B sequences' queries are the B query rows of
  // one sequence, [1, Hq, B, .] views of the [B, Hq, 1, .] buffers.
  auto qs = query.effectiveStrides();
  BufferRef prefixQuery{
      query.data, t, {1, hq, n, d}, {n * qs[0], qs[1], qs[0], qs[3]}};
  BufferRef prefixOut{states.data(), t, {1, hq, n, dv}, {part, dv, hq * dv, 1}};
  BufferRef prefixLse{stateLse.data(), DType::F32, {1, hq, n}, {n * hq, 1, hq}};
  AttentionSpec spec;
  spec.batch = 1;
  spec.numHeads = hq;
  spec.numKvHeads = c.numKvHeads();
  spec.queryLen = n;
  spec.kvLen = prefixKey.shape[2];
  spec.headDim = d;
  spec.valueDim = dv == d ? 0 : dv;
  spec.dtype = c.elementType();
  spec.scale = options.scale;
  spec.softcap = options.softcap;
  spec.returnLse = true;
  spec.withSinks = sinks != nullptr;
  auto kernel = runtime.compile(spec);
  if (!kernel)
    return kernel.takeError();
  rt::AttentionArgs args;
  args.query = prefixQuery;
  args.key = prefixKey;
  args.value = prefixValue;
  args.output = prefixOut;
  args.lse = prefixLse;
  if (sinks)
    args.sinks = *sinks;
  if (llvm::Error e = (*kernel)->run(args))
    return e;
  // Part 1, each sequence's suffix.
  BufferRef suffixOut = BufferRef::contiguous(
      states.data() + part * rt::dtypeBytes(t), t, {n, hq, 1, dv});
  BufferRef suffixLse =
      BufferRef::contiguous(stateLse.data() + n * hq, DType::F32, {n, hq, 1});
  if (llvm::Error e =
          steps.decodeStep(seqs, query, suffixOut, options, &suffixLse))
    return e;
  return mergeStates(
      steps.kernels(), runtime.threadPool(),
      BufferRef::contiguous(states.data(), t, {2, n, hq, 1, dv}),
      BufferRef::contiguous(stateLse.data(), DType::F32, {2, n, hq, 1}), output,
      lse);
}
