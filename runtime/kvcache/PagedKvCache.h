//===- PagedKvCache.h - a vLLM-style paged KV cache ------------*- C++ -*-===//
//
// K and V live in page pools [numPages, pageSize, Hkv, D] / [..., Dv]
// (layout NHD, vLLM's, the default) or [numPages, Hkv, pageSize, D] /
// [..., Dv] (HND, FlashInfer's: each head's rows of a page contiguous, which
// decode streams faster); position s of a sequence is row s % pageSize of
// page blockTable[seq, s / pageSize]. Sequences grow a page at a time from a
// shared free list and give pages back on truncate and free, so memory
// follows the tokens actually cached rather than each sequence's maximum.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_PAGEDKVCACHE_H
#define ATTN_RUNTIME_KVCACHE_PAGEDKVCACHE_H

#include "runtime/kvcache/KvCache.h"
#include "runtime/kvcache/PageAllocator.h"

namespace mlir::attn::kv {

struct PagedKvCacheConfig {
  int64_t numPages = 0;
  int64_t pageSize = 16;
  int64_t maxPagesPerSeq = 0; ///< block-table columns
  int64_t maxSequences = 0;   ///< block-table rows (sequence slots)
  int64_t numKvHeads = 1;
  int64_t headDim = 64;
  int64_t valueDim = 0; ///< 0: headDim
  ElementType dtype = ElementType::F32;
  /// NHD: pools [P, pageSize, Hkv, D]; HND: [P, Hkv, pageSize, D].
  PageLayout pageLayout = PageLayout::NHD;
  /// Where the K/V pools live (the bookkeeping is always on the host).
  /// Device: CUDA memory, f16/bf16 only; "no CUDA device: ..." without a
  /// GPU. Steps then run the CUDA cache kernels (KvSteps.h).
  rt::MemorySpace memory = rt::MemorySpace::Host;
  KvAllocator *allocator = nullptr; ///< null: by `memory`
};

class PagedKvCache final : public KvCache {
public:
  /// Fails on non-positive sizes, page counts beyond int32 page ids, or
  /// pools the allocator cannot provide.
  static llvm::Expected<std::unique_ptr<PagedKvCache>>
  create(const PagedKvCacheConfig &config);
  static bool classof(const KvCache *c) { return c->isPaged(); }

  int64_t numPages() const { return pages.numPages(); }
  int64_t pageSize() const { return pageRows; }
  PageLayout pageLayout() const { return layout; }
  int64_t maxPagesPerSeq() const { return maxPages; }
  int64_t numFreePages() const { return pages.numFree(); }
  /// Free pages; back() is handed out next.
  llvm::ArrayRef<int32_t> freePages() const { return pages.freePages(); }
  /// The pages of `id`, in position order.
  llvm::Expected<llvm::ArrayRef<int32_t>> pagesOf(SeqId id) const;

  /// Pools: key [numPages, pageSize, Hkv, D], value [..., Dv] (NHD), or
  /// key [numPages, Hkv, pageSize, D], value [..., Dv] (HND).
  /// blockTable(): [maxSequences, maxPagesPerSeq] i32 by slot, columns past
  /// a sequence's pages 0.
  rt::BufferRef blockTable() const;

private:
  PagedKvCache(const PagedKvCacheConfig &config,
               std::unique_ptr<KvMemory> keyMem,
               std::unique_ptr<KvMemory> valueMem, rt::BufferRef keyRef,
               rt::BufferRef valueRef);

  int64_t slotCapacity(int32_t slot) const override;
  llvm::Error growSlots(llvm::ArrayRef<SeqId> ids,
                        llvm::ArrayRef<int64_t> rows) override;
  void shrinkSlot(int32_t slot, int64_t rows) override;
  void fillBatchViews(KvBatch &batch) override;

  int64_t pagesFor(int64_t rows) const {
    return (rows + pageRows - 1) / pageRows;
  }
  int32_t *row(int32_t slot) { return &table[slot * maxPages]; }

  int64_t pageRows, maxPages;
  PageLayout layout;
  PageAllocator pages;
  std::vector<int32_t> table;      ///< [maxSequences, maxPages]
  std::vector<int32_t> pageCount;  ///< per slot
  std::vector<int32_t> batchTable; ///< [maxSequences, maxPages] step view
};

} // namespace mlir::attn::kv

#endif
