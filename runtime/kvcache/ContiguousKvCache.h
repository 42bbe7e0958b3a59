//===- ContiguousKvCache.h - one fixed slot per sequence -------*- C++ -*-===//
//
// K [maxBatch, Hkv, Smax, D] and V [maxBatch, Hkv, Smax, Dv]: every
// sequence owns a slot of Smax rows from the start. Simple and
// gather-free, at the price of memory for the longest possible sequence;
// PagedKvCache is the alternative.
//
// Kernels index the cache by batch row, so a step's batch must be
// consecutive ascending slots (a view of the buffers starting at the first
// one). Sequences added together get consecutive slots.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_CONTIGUOUSKVCACHE_H
#define ATTN_RUNTIME_KVCACHE_CONTIGUOUSKVCACHE_H

#include "runtime/kvcache/KvCache.h"

namespace mlir::attn::kv {

struct ContiguousKvCacheConfig {
  int64_t maxBatch = 0;  ///< sequence slots
  int64_t maxSeqLen = 0; ///< Smax
  int64_t numKvHeads = 1;
  int64_t headDim = 64;
  int64_t valueDim = 0; ///< 0: headDim
  ElementType dtype = ElementType::F32;
  /// Where the K/V pools live (the bookkeeping is always on the host).
  /// Device: CUDA memory, f16/bf16 only; "no CUDA device: ..." without a
  /// GPU. Steps then run the CUDA cache kernels (KvSteps.h).
  rt::MemorySpace memory = rt::MemorySpace::Host;
  KvAllocator *allocator = nullptr; ///< null: by `memory`
};

class ContiguousKvCache final : public KvCache {
public:
  /// Fails on non-positive sizes, Smax beyond int32, or buffers the
  /// allocator cannot provide.
  static llvm::Expected<std::unique_ptr<ContiguousKvCache>>
  create(const ContiguousKvCacheConfig &config);
  static bool classof(const KvCache *c) { return !c->isPaged(); }

  int64_t maxBatch() const { return maxSequences(); }
  int64_t maxSeqLen() const { return maxSequenceLength(); }

private:
  using KvCache::KvCache;

  int64_t slotCapacity(int32_t) const override { return maxSeqLen(); }
  llvm::Error growSlots(llvm::ArrayRef<SeqId>,
                        llvm::ArrayRef<int64_t>) override {
    // Every slot already holds Smax rows, and callers checked Smax.
    return llvm::Error::success();
  }
  void shrinkSlot(int32_t, int64_t) override {}
  void fillBatchViews(KvBatch &batch) override;
};

} // namespace mlir::attn::kv

#endif
