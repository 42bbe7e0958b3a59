//===- PagedKvCache.cpp - page pools, block tables ------------------------===//
#include "runtime/kvcache/PagedKvCache.h"
#include "runtime/Errors.h"
#include "runtime/KernelSignature.h"
#include "runtime/kvcache/KvCacheConfig.h"

#include <algorithm>
#include <cassert>

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::makeError;

llvm::Expected<std::unique_ptr<PagedKvCache>>
PagedKvCache::create(const PagedKvCacheConfig &c) {
  if (llvm::Error e = checkSizes(
          "PagedKvCache", {{"numPages", c.numPages},
                           {"pageSize", c.pageSize},
                           {"maxPagesPerSeq", c.maxPagesPerSeq},
                           {"maxSequences", c.maxSequences},
                           {"numKvHeads", c.numKvHeads},
                           {"headDim", c.headDim},
                           {"valueDim", c.valueDim ? c.valueDim : c.headDim}}))
    return std::move(e);
  // Lengths are i32, and the block table is one host array.
  if (llvm::Error e = checkSizes(
          "PagedKvCache",
          {{"maxPagesPerSeq * pageSize", c.maxPagesPerSeq * c.pageSize},
           {"maxSequences * maxPagesPerSeq",
            c.maxSequences * c.maxPagesPerSeq}}))
    return std::move(e);
  int64_t dv = c.valueDim ? c.valueDim : c.headDim;
  rt::DType dtype = rt::dtypeOf(c.dtype);
  if (llvm::Error e = checkMemorySpace("PagedKvCache", c.memory, dtype))
    return std::move(e);
  if (c.pageLayout != PageLayout::NHD && c.pageLayout != PageLayout::HND)
    return makeError("PagedKvCache: unknown page layout " +
                     llvm::Twine(static_cast<int>(c.pageLayout)));
  bool hnd = c.pageLayout == PageLayout::HND;
  llvm::SmallVector<int64_t, 4> kShape = {c.numPages, c.pageSize, c.numKvHeads,
                                          c.headDim};
  llvm::SmallVector<int64_t, 4> vShape = {c.numPages, c.pageSize, c.numKvHeads,
                                          dv};
  if (hnd) {
    std::swap(kShape[1], kShape[2]);
    std::swap(vShape[1], vShape[2]);
  }
  auto k = allocatePool(c.allocator, c.memory, kShape, dtype,
                        "PagedKvCache key pool");
  if (!k)
    return k.takeError();
  auto v = allocatePool(c.allocator, c.memory, vShape, dtype,
                        "PagedKvCache value pool");
  if (!v)
    return v.takeError();
  auto kRef = poolRef(**k, dtype, kShape);
  auto vRef = poolRef(**v, dtype, vShape);
  return std::unique_ptr<PagedKvCache>(new PagedKvCache(
      c, std::move(*k), std::move(*v), std::move(kRef), std::move(vRef)));
}

PagedKvCache::PagedKvCache(const PagedKvCacheConfig &c,
                           std::unique_ptr<KvMemory> keyMem,
                           std::unique_ptr<KvMemory> valueMem,
                           rt::BufferRef keyRef, rt::BufferRef valueRef)
    : KvCache(Kind::Paged,
              KvDims{c.numKvHeads, c.headDim,
                     c.valueDim ? c.valueDim : c.headDim, c.dtype},
              c.maxSequences, c.maxPagesPerSeq * c.pageSize, std::move(keyMem),
              std::move(valueMem), std::move(keyRef), std::move(valueRef)),
      pageRows(c.pageSize), maxPages(c.maxPagesPerSeq), layout(c.pageLayout),
      pages(static_cast<int32_t>(c.numPages)),
      table(c.maxSequences * c.maxPagesPerSeq, 0), pageCount(c.maxSequences, 0),
      batchTable(c.maxSequences * c.maxPagesPerSeq, 0) {}

llvm::Expected<llvm::ArrayRef<int32_t>> PagedKvCache::pagesOf(SeqId id) const {
  if (llvm::Error e = checkId(id, "pagesOf"))
    return std::move(e);
  return llvm::ArrayRef(&table[id.slot * maxPages], pageCount[id.slot]);
}

rt::BufferRef PagedKvCache::blockTable() const {
  return rt::BufferRef::contiguous(const_cast<int32_t *>(table.data()),
                                   rt::DType::I32, {maxSequences(), maxPages});
}

int64_t PagedKvCache::slotCapacity(int32_t slot) const {
  return pageCount[slot] * pageRows;
}

llvm::Error PagedKvCache::growSlots(llvm::ArrayRef<SeqId> ids,
                                    llvm::ArrayRef<int64_t> rows) {
  // Count first, allocate after: either every sequence gets its pages or
  // none does.
  int64_t needed = 0;
  for (size_t i = 0; i < ids.size(); ++i)
    needed += std::max<int64_t>(0, pagesFor(rows[i]) - pageCount[ids[i].slot]);
  if (needed > numFreePages()) {
    std::string who = ids.size() == 1
                          ? toString(ids[0])
                          : std::to_string(ids.size()) + " sequences";
    return makeError("out of pages: " + who +
                     (ids.size() == 1 ? " needs " : " need ") +
                     llvm::Twine(needed) + " more pages but only " +
                     llvm::Twine(numFreePages()) + " of " +
                     llvm::Twine(numPages()) + " are free");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t slot = ids[i].slot;
    int64_t more = pagesFor(rows[i]) - pageCount[slot];
    if (more <= 0)
      continue;
    bool ok = pages.allocate(more, row(slot) + pageCount[slot]);
    (void)ok;
    assert(ok && "counted above");
    pageCount[slot] += static_cast<int32_t>(more);
  }
  return llvm::Error::success();
}

void PagedKvCache::shrinkSlot(int32_t slot, int64_t rows) {
  int64_t keep = pagesFor(rows);
  if (keep >= pageCount[slot])
    return;
  int32_t *r = row(slot);
  pages.release(llvm::ArrayRef(r + keep, r + pageCount[slot]));
  std::fill(r + keep, r + pageCount[slot], 0);
  pageCount[slot] = static_cast<int32_t>(keep);
}

void PagedKvCache::fillBatchViews(KvBatch &batch) {
  int64_t n = batch.size();
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(row(batch.sequences[i].slot), maxPages,
                &batchTable[i * maxPages]);
  batch.pageLayout = layout;
  batch.keyCache = keyCache();
  batch.valueCache = valueCache();
  batch.blockTable = rt::BufferRef::contiguous(batchTable.data(),
                                               rt::DType::I32, {n, maxPages});
}
