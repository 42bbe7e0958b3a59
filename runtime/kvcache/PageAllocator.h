//===- PageAllocator.h - a free list of KV-cache pages ---------*- C++ -*-===//
//
// Pages are handed out last-freed first: a page just released by a
// finished sequence is the likeliest still to be in cache, and the order
// is deterministic, which tests rely on.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_PAGEALLOCATOR_H
#define ATTN_RUNTIME_KVCACHE_PAGEALLOCATOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <vector>

namespace mlir::attn::kv {

class PageAllocator {
public:
  explicit PageAllocator(int32_t numPages);

  int32_t numPages() const { return static_cast<int32_t>(owned.size()); }
  int32_t numFree() const { return static_cast<int32_t>(freeList.size()); }
  /// The free pages; back() is handed out next.
  llvm::ArrayRef<int32_t> freePages() const { return freeList; }
  bool isFree(int32_t page) const { return !owned[page]; }

  /// Writes `n` page ids to out[0, n), or returns false (changing
  /// nothing) when fewer than `n` are free.
  bool allocate(int64_t n, int32_t *out);
  /// Returns pages to the pool so that allocating them again yields them
  /// in the same order. Every page must be allocated.
  void release(llvm::ArrayRef<int32_t> pages);

private:
  std::vector<int32_t> freeList;
  std::vector<uint8_t> owned; ///< 1 while a sequence holds the page
};

} // namespace mlir::attn::kv

#endif
