//===- KvMixed.cpp - attention over mixed prefill + decode batches --------===//
//
// KvStepper::mixedStep: one attn.cache_attention launch with packed queries
// (query_offsets) for a batch whose sequences bring 0, 1 (decode) or a
// chunk of queries each. The offsets are checked against the lengths after
// the append, before anything runs; the kernel is the packed form of the
// decode kernel (its own memo entry).
//
//===----------------------------------------------------------------------===//
#include "runtime/Errors.h"
#include "runtime/kvcache/KvSteps.h"

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;
using rt::makeError;

llvm::Error KvStepper::mixedStep(llvm::ArrayRef<SeqId> seqs,
                                 const BufferRef &query,
                                 llvm::ArrayRef<int32_t> queryOffsets,
                                 const BufferRef &output,
                                 const CacheAttentionOptions &attn,
                                 const BufferRef *lse, const BufferRef *sinks,
                                 const RotaryEmbedding *rope) {
  const char *what = "mixedStep";
  const KvCache &c = kvCache;
  int64_t n = static_cast<int64_t>(seqs.size());
  CacheGeometry g;
  g.batch = n;
  g.numKvHeads = c.numKvHeads();
  g.headDim = c.headDim();
  g.valueDim = c.valueDim();
  if (llvm::Error e = checkBuffer(query, what, "query", c.dtype(), query.shape,
                                  "(the cache's element type)"))
    return e;
  auto hq = checkPackedCacheQuery(g, query, attn, what);
  if (!hq)
    return hq.takeError();
  int64_t t = query.shape[0];
  if (llvm::Error e = checkBuffer(output, what, "output", query.dtype,
                                  {t, *hq, g.valueDim}, "[T, Hq, Dv]"))
    return e;
  if (lse)
    if (llvm::Error e =
            checkBuffer(*lse, what, "lse", DType::F32, {t, *hq}, "[T, Hq]"))
      return e;
  if (sinks)
    if (llvm::Error e =
            checkBuffer(*sinks, what, "sinks", DType::F32, {*hq}, "[Hq]"))
      return e;
  for (auto [b, name] :
       {std::pair{&query, "query"}, {&output, "output"}, {lse, "lse"}})
    if (b)
      if (llvm::Error e = checkInnerStride(*b, what, name))
        return e;
  BufferRef offsets = BufferRef::contiguous(
      const_cast<int32_t *>(queryOffsets.data()), DType::I32,
      {static_cast<int64_t>(queryOffsets.size())});
  // The lengths of bad ids read as 0 here; prepareStep names the id.
  auto lengthOf = [&](int64_t i) -> int64_t {
    auto len = c.length(seqs[i]);
    if (!len) {
      llvm::consumeError(len.takeError());
      return 0;
    }
    return *len;
  };
  if (llvm::Error e = checkQueryOffsets(offsets, n, t, lengthOf, what))
    return e;
  if (rope) {
    if (llvm::Error e =
            checkRotary(*rope, what, "query", c.headDim(), c.dtype()))
      return e;
    for (int64_t i = 0; i < n; ++i) {
      int64_t len = lengthOf(i), q = queryOffsets[i + 1] - queryOffsets[i];
      if (len > 0)
        if (llvm::Error e =
                checkRotaryPositions(*rope, what, "query", i, len - q, len))
          return e;
    }
  }

  if (llvm::Error e = checkBackend(what))
    return e;
  StepKernel kernel;
  if (options.backend == StepBackend::Compiled && n > 0) {
    auto k = decodeKernel(query, output, lse, sinks, rope, attn, n);
    if (!k)
      return k.takeError();
    kernel = *k;
  }

  auto batch = kvCache.prepareStep(seqs, 0);
  if (!batch)
    return batch.takeError();
  const KvBatch &b = **batch;
  if (llvm::Error e = checkDisjointAttention(b, query, &offsets, output, lse,
                                             sinks, rope, what))
    return e;
  if (kernel)
    return runAttention(kernel, b, query, &offsets, output, lse, sinks, rope);
  if (n == 0)
    return llvm::Error::success();
  auto ref = referenceMixedCacheAttention(b.attentionOperands(), query, offsets,
                                          attn, sinks, rope);
  if (!ref)
    return ref.takeError();
  auto os = output.effectiveStrides();
  for (int64_t i = 0; i < t * *hq; ++i) {
    int64_t r = i / *hq, h = i % *hq;
    for (int64_t d = 0; d < g.valueDim; ++d)
      storeFromDouble(output, r * os[0] + h * os[1] + d * os[2],
                      ref->output[i * g.valueDim + d]);
    if (lse) {
      auto ls = lse->effectiveStrides();
      storeFromDouble(*lse, r * ls[0] + h * ls[1], ref->lse[i]);
    }
  }
  return llvm::Error::success();
}
