//===- PageAllocator.cpp - a free list of KV-cache pages ------------------===//
#include "runtime/kvcache/PageAllocator.h"

#include <cassert>

using namespace mlir::attn::kv;

PageAllocator::PageAllocator(int32_t numPages) : owned(numPages, 0) {
  // Descending, so that a fresh cache hands out pages 0, 1, 2, ...
  freeList.reserve(numPages);
  for (int32_t p = numPages - 1; p >= 0; --p)
    freeList.push_back(p);
}

bool PageAllocator::allocate(int64_t n, int32_t *out) {
  if (n > numFree())
    return false;
  for (int64_t i = 0; i < n; ++i) {
    int32_t p = freeList.back();
    freeList.pop_back();
    owned[p] = 1;
    out[i] = p;
  }
  return true;
}

void PageAllocator::release(llvm::ArrayRef<int32_t> pages) {
  for (int32_t p : llvm::reverse(pages)) {
    assert(owned[p] && "releasing a page that is not allocated");
    owned[p] = 0;
    freeList.push_back(p);
  }
}
