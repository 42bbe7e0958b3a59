//===- KvCache.cpp - sequence slots, lengths and steps --------------------===//
#include "runtime/kvcache/KvCache.h"
#include "runtime/Errors.h"
#include "runtime/KernelSignature.h"

#include "llvm/ADT/SmallSet.h"

#include <limits>

using namespace mlir::attn;
using namespace mlir::attn::kv;
using rt::makeError;

std::string mlir::attn::kv::toString(SeqId id) {
  return "sequence " + std::to_string(id.slot) + "#" +
         std::to_string(id.generation);
}

llvm::Expected<int64_t>
mlir::attn::kv::checkedBytes(llvm::ArrayRef<int64_t> shape, rt::DType dtype,
                             llvm::StringRef what) {
  int64_t n = rt::dtypeBytes(dtype);
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d))
      return makeError(what + " of shape " + rt::shapeString(shape) +
                       " is too large");
    n *= d;
  }
  return n;
}

CacheOperands KvBatch::appendOperands() const {
  return {keyCache, valueCache, lengthsBefore, blockTable, pageLayout};
}

CacheOperands KvBatch::attentionOperands() const {
  return {keyCache, valueCache, lengthsAfter, blockTable, pageLayout};
}

KvCache::KvCache(Kind kind, const KvDims &dims, int64_t maxSequences,
                 int64_t maxLength, std::unique_ptr<KvMemory> keyMem,
                 std::unique_ptr<KvMemory> valueMem, rt::BufferRef keyRef,
                 rt::BufferRef valueRef)
    : kvDims(dims), cacheKind(kind), maxLength(maxLength),
      keyMem(std::move(keyMem)), valueMem(std::move(valueMem)),
      keyRef(std::move(keyRef)), valueRef(std::move(valueRef)),
      live(maxSequences, 0), generation(maxSequences, 0),
      slotLengths(maxSequences, 0), beforeStorage(maxSequences),
      afterStorage(maxSequences), newStorage(maxSequences),
      uniformScratch(maxSequences) {
  batch.sequences.reserve(maxSequences);
  rowsScratch.reserve(maxSequences);
}

KvCache::~KvCache() = default;

rt::DType KvCache::dtype() const { return rt::dtypeOf(kvDims.dtype); }

bool KvCache::contains(SeqId id) const {
  return id.slot >= 0 && id.slot < maxSequences() && live[id.slot] &&
         generation[id.slot] == id.generation;
}

std::vector<SeqId> KvCache::sequences() const {
  std::vector<SeqId> ids;
  for (int32_t s = 0; s < maxSequences(); ++s)
    if (live[s])
      ids.push_back({s, generation[s]});
  return ids;
}

llvm::Error KvCache::checkId(SeqId id, llvm::StringRef op) const {
  if (contains(id))
    return llvm::Error::success();
  // A slot's generation grows on every free, so an id from an earlier
  // generation was freed; anything else was never handed out.
  if (id.slot >= 0 && id.slot < maxSequences() &&
      (id.generation < generation[id.slot]))
    return makeError(op + ": " + toString(id) + " was freed");
  return makeError(op + ": unknown " + toString(id) + " (the cache has " +
                   llvm::Twine(maxSequences()) + " sequence slots)");
}

llvm::Expected<SeqId> KvCache::addSequence() {
  for (int32_t s = 0; s < maxSequences(); ++s) {
    if (live[s])
      continue;
    live[s] = 1;
    slotLengths[s] = 0;
    ++numLive;
    bumpEpoch();
    return SeqId{s, generation[s]};
  }
  return makeError("addSequence: all " + llvm::Twine(maxSequences()) +
                   " sequence slots are in use");
}

llvm::Error KvCache::freeSequence(SeqId id) {
  if (llvm::Error e = checkId(id, "freeSequence"))
    return e;
  shrinkSlot(id.slot, 0);
  live[id.slot] = 0;
  ++generation[id.slot];
  slotLengths[id.slot] = 0;
  --numLive;
  bumpEpoch();
  return llvm::Error::success();
}

llvm::Expected<int64_t> KvCache::length(SeqId id) const {
  if (llvm::Error e = checkId(id, "length"))
    return std::move(e);
  return slotLengths[id.slot];
}

llvm::Expected<int64_t> KvCache::capacity(SeqId id) const {
  if (llvm::Error e = checkId(id, "capacity"))
    return std::move(e);
  return slotCapacity(id.slot);
}

llvm::Error KvCache::checkTokens(SeqId id, int64_t newTokens,
                                 llvm::StringRef op, int64_t &rows) const {
  if (llvm::Error e = checkId(id, op))
    return e;
  if (newTokens < 0)
    return makeError(op + ": " + toString(id) + ": negative token count " +
                     llvm::Twine(newTokens));
  int64_t len = slotLengths[id.slot];
  if (newTokens > maxLength - len)
    return makeError(op + ": " + toString(id) + " has " + llvm::Twine(len) +
                     " tokens; " + llvm::Twine(newTokens) +
                     " more exceed its capacity of " + llvm::Twine(maxLength));
  rows = len + newTokens;
  return llvm::Error::success();
}

llvm::Error KvCache::reserve(SeqId id, int64_t newTokens) {
  int64_t rows;
  if (llvm::Error e = checkTokens(id, newTokens, "reserve", rows))
    return e;
  if (llvm::Error e = growSlots({id}, {rows}))
    return e;
  bumpEpoch();
  return llvm::Error::success();
}

llvm::Error KvCache::extend(SeqId id, int64_t newTokens) {
  int64_t rows;
  if (llvm::Error e = checkTokens(id, newTokens, "extend", rows))
    return e;
  if (llvm::Error e = growSlots({id}, {rows}))
    return e;
  slotLengths[id.slot] = static_cast<int32_t>(rows);
  bumpEpoch();
  return llvm::Error::success();
}

llvm::Error KvCache::truncate(SeqId id, int64_t newLength) {
  if (llvm::Error e = checkId(id, "truncate"))
    return e;
  int64_t len = slotLengths[id.slot];
  if (newLength < 0 || newLength > len)
    return makeError("truncate: " + toString(id) + " has " + llvm::Twine(len) +
                     " tokens; cannot truncate to " + llvm::Twine(newLength));
  shrinkSlot(id.slot, newLength);
  slotLengths[id.slot] = static_cast<int32_t>(newLength);
  bumpEpoch();
  return llvm::Error::success();
}

rt::BufferRef KvCache::lengths() const {
  return rt::BufferRef::contiguous(const_cast<int32_t *>(slotLengths.data()),
                                   rt::DType::I32, {maxSequences()});
}

llvm::Expected<const KvBatch *> KvCache::prepareStep(llvm::ArrayRef<SeqId> seqs,
                                                     int32_t newTokens) {
  // A member scratch, not a local vector: steady-state steps allocate
  // nothing.
  if (seqs.size() <= uniformScratch.size())
    std::fill_n(uniformScratch.begin(), seqs.size(), newTokens);
  return prepareStep(
      seqs, llvm::ArrayRef(uniformScratch)
                .take_front(std::min(seqs.size(), uniformScratch.size())));
}

llvm::Expected<const KvBatch *>
KvCache::prepareStep(llvm::ArrayRef<SeqId> seqs,
                     llvm::ArrayRef<int32_t> newTokens) {
  int64_t n = static_cast<int64_t>(seqs.size());
  if (n == 0)
    return makeError("prepareStep: empty batch");
  if (n > maxSequences())
    return makeError("prepareStep: a batch of " + llvm::Twine(n) +
                     " sequences exceeds the cache's " +
                     llvm::Twine(maxSequences()) + " slots");
  if (static_cast<int64_t>(newTokens.size()) != n)
    return makeError("prepareStep: " + llvm::Twine(newTokens.size()) +
                     " token counts for " + llvm::Twine(n) + " sequences");
  rowsScratch.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (llvm::Error e =
            checkTokens(seqs[i], newTokens[i], "prepareStep", rowsScratch[i]))
      return std::move(e);
    for (int64_t j = 0; j < i; ++j)
      if (seqs[j] == seqs[i])
        return makeError("prepareStep: " + toString(seqs[i]) +
                         " appears twice in the batch");
  }
  if (!isPaged())
    for (int64_t i = 1; i < n; ++i)
      if (seqs[i].slot != seqs[0].slot + i)
        return makeError(
            "prepareStep: a contiguous cache needs the batch in consecutive "
            "ascending slots, but " +
            toString(seqs[i]) + " follows " + toString(seqs[i - 1]) +
            " (use a paged cache for arbitrary batches)");
  if (llvm::Error e = growSlots(seqs, rowsScratch))
    return std::move(e);

  batch.sequences.assign(seqs.begin(), seqs.end());
  for (int64_t i = 0; i < n; ++i) {
    beforeStorage[i] = slotLengths[seqs[i].slot];
    afterStorage[i] = static_cast<int32_t>(rowsScratch[i]);
    newStorage[i] = newTokens[i];
  }
  auto ref = [&](std::vector<int32_t> &v) {
    return rt::BufferRef::contiguous(v.data(), rt::DType::I32, {n});
  };
  batch.lengthsBefore = ref(beforeStorage);
  batch.lengthsAfter = ref(afterStorage);
  batch.newLengths = ref(newStorage);
  fillBatchViews(batch);
  bumpEpoch();
  batch.epoch = epoch;
  return &batch;
}

llvm::Error KvCache::commitStep(const KvBatch &b) {
  if (&b != &batch)
    return makeError("commitStep: the batch was prepared by another cache");
  if (b.epoch != epoch)
    return makeError("commitStep: the batch is stale (the cache changed "
                     "since prepareStep)");
  for (int64_t i = 0, n = b.size(); i < n; ++i)
    slotLengths[b.sequences[i].slot] = afterStorage[i];
  bumpEpoch();
  return llvm::Error::success();
}

void KvCache::readPools(void *keys, void *values) const {
  keyMem->read(0, keys, keyMem->bytes());
  valueMem->read(0, values, valueMem->bytes());
}
