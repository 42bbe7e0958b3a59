//===- KvMixed.cpp - attention over mixed prefill + decode batches --------===//
//
// KvStepper::mixedStep: one attn.cache_attention launch with packed queries
// (query_offsets) for a batch whose sequences bring 0, 1 (decode) or a
// chunk of queries each. The offsets are checked against the lengths after
// the append, before anything runs; the kernel is the packed form of the
// decode kernel (its own memo entry): attn-to-cpu's work-item loop on
// the CPU, the mixed kernel of attn-to-nvvm (passes/gpu/MixedKernel.cpp)
// for caches in device memory.
//
//===----------------------------------------------------------------------===//
#include "runtime/kvcache/KvSteps.h"

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::BufferRef;
using rt::DType;

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
  auto hq = checkAttentionBuffers(n, query, output, lse, sinks, attn, what,
                                  /*packed=*/true);
  if (!hq)
    return hq.takeError();
  int64_t t = query.shape[0], dv = c.valueDim();
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
  auto start = startAttention(seqs, query, &offsets, output, lse, sinks, rope,
                              attn, what);
  if (!start)
    return start.takeError();
  const KvBatch &b = *start->batch;
  // No query row (every sequence idle): nothing to write. CUDA kernels
  // need non-empty sizes, so the launch is skipped rather than refused.
  if (t == 0)
    return llvm::Error::success();
  if (start->kernel)
    return runAttention(start->kernel, b, query, &offsets, output, lse, sinks,
                        rope);
  auto ref = referenceMixedCacheAttention(b.attentionOperands(), query, offsets,
                                          attn, sinks, rope);
  if (!ref)
    return ref.takeError();
  auto os = output.effectiveStrides();
  for (int64_t i = 0; i < t * *hq; ++i) {
    int64_t r = i / *hq, h = i % *hq;
    for (int64_t d = 0; d < dv; ++d)
      storeFromDouble(output, r * os[0] + h * os[1] + d * os[2],
                      ref->output[i * dv + d]);
    if (lse) {
      auto ls = lse->effectiveStrides();
      storeFromDouble(*lse, r * ls[0] + h * ls[1], ref->lse[i]);
    }
  }
  return llvm::Error::success();
}
