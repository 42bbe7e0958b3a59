//===- KvCacheConvert.cpp - pool a live KV cache's heads ------------------===//

#include "runtime/convert/KvCacheConvert.h"

#include "runtime/HalfFloat.h"
#include "runtime/convert/Rounding.h"
#include "runtime/kvcache/ContiguousKvCache.h"
#include "runtime/kvcache/PagedKvCache.h"

#include "llvm/Support/Casting.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir::attn;
using namespace mlir::attn::convert;
using llvm::Error;
using llvm::Expected;

namespace {
Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "KV cache conversion: " + msg);
}

/// Element access to a host copy of a pool.
double load(const uint8_t *pool, ElementType t, int64_t i) {
  switch (t) {
  case ElementType::F32: {
    float f;
    std::memcpy(&f, pool + 4 * i, 4);
    return f;
  }
  case ElementType::F16: {
    uint16_t h;
    std::memcpy(&h, pool + 2 * i, 2);
    return rt::halfToFloat(h);
  }
  case ElementType::BF16: {
    uint16_t b;
    std::memcpy(&b, pool + 2 * i, 2);
    return rt::bfloatToFloat(b);
  }
  }
  llvm_unreachable("unknown element type");
}

void store(uint8_t *pool, ElementType t, int64_t i, double v) {
  switch (t) {
  case ElementType::F32: {
    float f = static_cast<float>(v);
    std::memcpy(pool + 4 * i, &f, 4);
    return;
  }
  case ElementType::F16: {
    uint16_t h = rt::floatToHalf(roundToOddFloat(v));
    std::memcpy(pool + 2 * i, &h, 2);
    return;
  }
  case ElementType::BF16: {
    uint16_t b = rt::floatToBFloat(roundToOddFloat(v));
    std::memcpy(pool + 2 * i, &b, 2);
    return;
  }
  }
  llvm_unreachable("unknown element type");
}

/// Where (position s, head h) of a sequence starts in a pool, in elements
/// of a row of `dim`: by slot for contiguous caches, by page otherwise.
struct RowIndex {
  const kv::KvCache &cache;
  llvm::ArrayRef<int32_t> pages; ///< paged only
  int32_t slot;

  int64_t operator()(int64_t s, int64_t h, int64_t dim) const {
    int64_t heads = cache.numKvHeads();
    if (const auto *p = llvm::dyn_cast<kv::PagedKvCache>(&cache)) {
      int64_t ps = p->pageSize(), page = pages[s / ps], r = s % ps;
      if (p->pageLayout() == PageLayout::NHD)
        return ((page * ps + r) * heads + h) * dim;
      return ((page * heads + h) * ps + r) * dim;
    }
    int64_t smax = cache.maxSequenceLength();
    return ((int64_t(slot) * heads + h) * smax + s) * dim;
  }
};

Expected<std::unique_ptr<kv::KvCache>>
createLike(const kv::KvCache &src, int64_t groups, kv::KvAllocator *alloc) {
  int64_t dv = src.valueDim() ? src.valueDim() : src.headDim();
  if (const auto *p = llvm::dyn_cast<kv::PagedKvCache>(&src)) {
    kv::PagedKvCacheConfig c;
    c.numPages = p->numPages();
    c.pageSize = p->pageSize();
    c.maxPagesPerSeq = p->maxPagesPerSeq();
    c.maxSequences = p->maxSequences();
    c.numKvHeads = groups;
    c.headDim = p->headDim();
    c.valueDim = dv;
    c.dtype = p->elementType();
    c.pageLayout = p->pageLayout();
    c.memory = p->memorySpace();
    c.allocator = alloc;
    auto made = kv::PagedKvCache::create(c);
    if (!made)
      return made.takeError();
    return std::unique_ptr<kv::KvCache>(std::move(*made));
  }
  kv::ContiguousKvCacheConfig c;
  c.maxBatch = src.maxSequences();
  c.maxSeqLen = src.maxSequenceLength();
  c.numKvHeads = groups;
  c.headDim = src.headDim();
  c.valueDim = dv;
  c.dtype = src.elementType();
  c.memory = src.memorySpace();
  c.allocator = alloc;
  auto made = kv::ContiguousKvCache::create(c);
  if (!made)
    return made.takeError();
  return std::unique_ptr<kv::KvCache>(std::move(*made));
}

/// Recreates the source's live sequences in the same slots and lengths:
/// addSequence hands out the lowest free slot, so fill every slot up to the
/// last live one and free those the source does not use.
Expected<std::vector<std::pair<kv::SeqId, kv::SeqId>>>
mirrorSequences(const kv::KvCache &src, kv::KvCache &dst) {
  std::vector<kv::SeqId> live = src.sequences();
  std::vector<std::pair<kv::SeqId, kv::SeqId>> ids;
  if (live.empty())
    return ids;
  std::vector<kv::SeqId> made;
  for (int32_t slot = 0; slot <= live.back().slot; ++slot) {
    Expected<kv::SeqId> id = dst.addSequence();
    if (!id)
      return id.takeError();
    made.push_back(*id);
  }
  size_t next = 0;
  for (kv::SeqId id : made) {
    if (next < live.size() && live[next].slot == id.slot) {
      Expected<int64_t> len = src.length(live[next]);
      if (!len)
        return len.takeError();
      if (Error e = dst.extend(id, *len))
        return std::move(e);
      ids.emplace_back(live[next++], id);
    } else if (Error e = dst.freeSequence(id)) {
      return std::move(e);
    }
  }
  return ids;
}
} // namespace

Expected<PooledKvCache>
mlir::attn::convert::poolKvHeads(kv::KvCache &src, int64_t groups,
                                 kv::KvAllocator *allocator) {
  int64_t heads = src.numKvHeads();
  if (groups <= 0)
    return fail(llvm::formatv("groups must be positive, got {0}", groups));
  if (heads % groups != 0)
    return fail(llvm::formatv("{0} KV heads do not divide into {1} groups",
                              heads, groups));
  Expected<std::unique_ptr<kv::KvCache>> dst =
      createLike(src, groups, allocator);
  if (!dst)
    return dst.takeError();
  auto ids = mirrorSequences(src, **dst);
  if (!ids)
    return ids.takeError();

  ElementType t = src.elementType();
  // Pool memory may be rounded up past the row-major size (huge pages):
  // the host copies take the memory's own byte counts.
  std::vector<uint8_t> srcK(src.keyMemory().bytes()),
      srcV(src.valueMemory().bytes());
  std::vector<uint8_t> dstK((*dst)->keyMemory().bytes()),
      dstV((*dst)->valueMemory().bytes());
  src.readPools(srcK.data(), srcV.data());
  int64_t per = heads / groups, d = src.headDim();
  int64_t dv = src.valueDim() ? src.valueDim() : d;
  const auto *paged = llvm::dyn_cast<kv::PagedKvCache>(&src);
  for (auto [oldId, newId] : *ids) {
    RowIndex from{src, {}, oldId.slot}, to{**dst, {}, newId.slot};
    if (paged) {
      from.pages = *paged->pagesOf(oldId);
      to.pages = *llvm::cast<kv::PagedKvCache>(**dst).pagesOf(newId);
    }
    int64_t len = *src.length(oldId);
    for (int64_t s = 0; s < len; ++s)
      for (int64_t g = 0; g < groups; ++g)
        for (auto [pool, out, dim] : {std::tuple{srcK.data(), dstK.data(), d},
                                      std::tuple{srcV.data(), dstV.data(), dv}})
          for (int64_t e = 0; e < dim; ++e) {
            double sum = 0;
            for (int64_t j = 0; j < per; ++j)
              sum += load(pool, t, from(s, g * per + j, dim) + e);
            store(out, t, to(s, g, dim) + e, sum / static_cast<double>(per));
          }
  }
  (*dst)->keyMemory().write(0, dstK.data(), dstK.size());
  (*dst)->valueMemory().write(0, dstV.data(), dstV.size());
  return PooledKvCache{std::move(*dst), std::move(*ids)};
}
