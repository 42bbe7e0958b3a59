//===- ContiguousKvCache.cpp - one fixed slot per sequence ----------------===//
#include "runtime/kvcache/ContiguousKvCache.h"
#include "runtime/KernelSignature.h"
#include "runtime/kvcache/KvCacheConfig.h"

using namespace mlir::attn;
using namespace mlir::attn::kv;

llvm::Expected<std::unique_ptr<ContiguousKvCache>>
ContiguousKvCache::create(const ContiguousKvCacheConfig &c) {
  if (llvm::Error e =
          checkSizes("ContiguousKvCache",
                     {{"maxBatch", c.maxBatch},
                      {"maxSeqLen", c.maxSeqLen},
                      {"numKvHeads", c.numKvHeads},
                      {"headDim", c.headDim},
                      {"valueDim", c.valueDim ? c.valueDim : c.headDim}}))
    return std::move(e);
  int64_t dv = c.valueDim ? c.valueDim : c.headDim;
  rt::DType dtype = rt::dtypeOf(c.dtype);
  if (llvm::Error e = checkMemorySpace("ContiguousKvCache", c.memory, dtype))
    return std::move(e);
  llvm::SmallVector<int64_t, 4> kShape = {c.maxBatch, c.numKvHeads, c.maxSeqLen,
                                          c.headDim};
  llvm::SmallVector<int64_t, 4> vShape = {c.maxBatch, c.numKvHeads, c.maxSeqLen,
                                          dv};
  auto k = allocatePool(c.allocator, c.memory, kShape, dtype,
                        "ContiguousKvCache keys");
  if (!k)
    return k.takeError();
  auto v = allocatePool(c.allocator, c.memory, vShape, dtype,
                        "ContiguousKvCache values");
  if (!v)
    return v.takeError();
  auto kRef = poolRef(**k, dtype, kShape);
  auto vRef = poolRef(**v, dtype, vShape);
  return std::unique_ptr<ContiguousKvCache>(new ContiguousKvCache(
      Kind::Contiguous, KvDims{c.numKvHeads, c.headDim, dv, c.dtype},
      c.maxBatch, c.maxSeqLen, std::move(*k), std::move(*v), std::move(kRef),
      std::move(vRef)));
}

/// The batch's slots [s0, s0 + B) as a view of the full buffers.
static rt::BufferRef sliceSlots(const rt::BufferRef &full, int64_t s0,
                                int64_t n) {
  rt::BufferRef view = full;
  int64_t slotElements = full.numElements() / full.shape[0];
  view.data = static_cast<char *>(full.data) +
              s0 * slotElements * rt::dtypeBytes(full.dtype);
  view.shape[0] = n;
  return view;
}

void ContiguousKvCache::fillBatchViews(KvBatch &batch) {
  int64_t s0 = batch.sequences.front().slot, n = batch.size();
  batch.keyCache = sliceSlots(keyCache(), s0, n);
  batch.valueCache = sliceSlots(valueCache(), s0, n);
  batch.blockTable.reset();
}
