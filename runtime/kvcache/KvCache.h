//===- KvCache.h - KV caches a serving engine decodes against --*- C++ -*-===//
//
// A KV cache owns the K/V rows of many sequences and the bookkeeping around
// them: which sequence slots are live, how long each sequence is, and (for
// PagedKvCache) which pages hold it. KvCache is the interface both kinds
// share; ContiguousKvCache and PagedKvCache add their own geometry.
//
// Two rules hold for every operation:
// - Errors, not aborts: a bad id, an overflow, running out of pages or a
//   malformed buffer returns an llvm::Error naming the problem.
// - A failing operation changes nothing: checks run before the first
//   write, and multi-sequence operations are all-or-nothing.
//
// Rows are written by the compiled attn.cache_append kernel (or the float64
// reference); the cache only hands out buffers and tracks lengths. One
// decode step is
//
//   const KvBatch *step = *cache.prepareStep(seqs, /*newTokens=*/1);
//   ... attn.cache_append at step->lengthsBefore ...
//   cache.commitStep(*step);        // lengths += 1
//   ... attn.cache_attention over step->lengthsAfter ...
//
// which KvStepper (KvSteps.h) wraps.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_KVCACHE_KVCACHE_H
#define ATTN_RUNTIME_KVCACHE_KVCACHE_H

#include "dialect/AttentionSpec.h"
#include "runtime/Buffer.h"
#include "runtime/kvcache/CacheOperands.h"
#include "runtime/kvcache/KvStorage.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::attn::kv {

/// A sequence handle. The generation makes a freed id stale for good, even
/// after its slot is reused by a new sequence.
struct SeqId {
  int32_t slot = -1;
  uint32_t generation = 0;
  bool operator==(const SeqId &) const = default;
};

/// "sequence 3#1" (slot 3, generation 1).
std::string toString(SeqId id);

/// Geometry of one token's K and V rows, shared by both cache kinds.
struct KvDims {
  int64_t numKvHeads = 1; ///< Hkv
  int64_t headDim = 64;   ///< D
  int64_t valueDim = 0;   ///< Dv; 0 means headDim
  ElementType dtype = ElementType::F32;
};

/// The buffers of one step over a ragged batch of sequences, in the operand
/// form of attn.cache_append / attn.cache_attention. Owned by the cache and
/// rewritten by its next prepareStep (no allocation in steady state).
struct KvBatch {
  llvm::SmallVector<SeqId, 16> sequences;
  /// Paged: the whole pools. Contiguous: the B consecutive slots of the
  /// batch, a view into the cache's [maxBatch, ...] buffers.
  rt::BufferRef keyCache, valueCache;
  rt::BufferRef lengthsBefore; ///< [B] i32, before the step's append
  rt::BufferRef lengthsAfter;  ///< [B] i32, after it
  rt::BufferRef newLengths;    ///< [B] i32, after - before
  /// Paged only: [B, maxPagesPerSeq] i32, covering lengthsAfter; columns
  /// past a sequence's pages hold 0 (a valid page id, so a kernel that
  /// fetches one page ahead cannot fault).
  std::optional<rt::BufferRef> blockTable;
  /// Paged only: the pools' page layout.
  PageLayout pageLayout = PageLayout::NHD;

  int64_t size() const { return static_cast<int64_t>(sequences.size()); }
  /// Operands of attn.cache_append (lengths before the step).
  CacheOperands appendOperands() const;
  /// Operands of attn.cache_attention (lengths after the step).
  CacheOperands attentionOperands() const;

private:
  friend class KvCache;
  uint64_t epoch = 0; ///< the cache state the batch was prepared in
};

class KvCache {
public:
  enum class Kind { Contiguous, Paged };

  virtual ~KvCache();
  KvCache(const KvCache &) = delete;
  KvCache &operator=(const KvCache &) = delete;

  Kind kind() const { return cacheKind; }
  bool isPaged() const { return cacheKind == Kind::Paged; }
  const KvDims &dims() const { return kvDims; }
  int64_t numKvHeads() const { return kvDims.numKvHeads; }
  int64_t headDim() const { return kvDims.headDim; }
  int64_t valueDim() const { return kvDims.valueDim; }
  ElementType elementType() const { return kvDims.dtype; }
  rt::DType dtype() const;

  /// Sequence slots (maxBatch / maxSequences).
  int64_t maxSequences() const { return static_cast<int64_t>(live.size()); }
  /// The longest a sequence may grow: Smax, or maxPagesPerSeq * pageSize.
  int64_t maxSequenceLength() const { return maxLength; }
  int64_t numSequences() const { return numLive; }
  bool contains(SeqId id) const;
  /// Live sequences by slot.
  std::vector<SeqId> sequences() const;

  /// A new empty sequence in the lowest free slot (so that sequences added
  /// together get consecutive slots). Fails when every slot is taken.
  llvm::Expected<SeqId> addSequence();
  /// Releases the slot (and, paged, its pages); `id` is invalid afterwards.
  llvm::Error freeSequence(SeqId id);
  llvm::Expected<int64_t> length(SeqId id) const;
  /// Rows the sequence can hold without allocating: Smax, or its pages.
  llvm::Expected<int64_t> capacity(SeqId id) const;
  /// Makes room for `newTokens` more rows (paged: allocates pages); the
  /// length does not change.
  llvm::Error reserve(SeqId id, int64_t newTokens);
  /// reserve, then counts the rows as present: for rows a kernel wrote on
  /// its own (the step API does this for you).
  llvm::Error extend(SeqId id, int64_t newTokens);
  /// Drops rows past `newLength` (<= length); paged: pages no longer needed
  /// go back to the pool.
  llvm::Error truncate(SeqId id, int64_t newLength);

  /// The whole K/V buffers (see the subclasses for their shapes).
  rt::BufferRef keyCache() const { return keyRef; }
  rt::BufferRef valueCache() const { return valueRef; }
  /// [maxSequences] i32, by slot; free slots read 0.
  rt::BufferRef lengths() const;
  KvMemory &keyMemory() { return *keyMem; }
  KvMemory &valueMemory() { return *valueMem; }
  /// Where the pools live (Device: CUDA memory, see the configs' `memory`).
  rt::MemorySpace memorySpace() const { return keyRef.space; }
  /// Copies the whole key and value pools (keyCache() / valueCache() shapes,
  /// row-major) into host memory of their byte sizes, from either memory
  /// space: how device caches are checked against the float64 reference.
  void readPools(void *keys, void *values) const;

  /// Prepares a step appending newTokens[i] rows to sequences[i] (a single
  /// value: the same for all): reserves room for them, all or nothing, and
  /// fills the cache's KvBatch. Lengths do not change until commitStep.
  /// Sequences must be distinct and live; contiguous caches also need them
  /// in consecutive ascending slots (the kernels index the cache by batch
  /// row).
  llvm::Expected<const KvBatch *>
  prepareStep(llvm::ArrayRef<SeqId> seqs, llvm::ArrayRef<int32_t> newTokens);
  llvm::Expected<const KvBatch *> prepareStep(llvm::ArrayRef<SeqId> seqs,
                                              int32_t newTokens = 0);
  /// Sets each sequence's length to batch.lengthsAfter. Fails when any
  /// other operation ran since the batch was prepared.
  llvm::Error commitStep(const KvBatch &batch);

protected:
  KvCache(Kind kind, const KvDims &dims, int64_t maxSequences,
          int64_t maxLength, std::unique_ptr<KvMemory> keyMem,
          std::unique_ptr<KvMemory> valueMem, rt::BufferRef keyRef,
          rt::BufferRef valueRef);

  /// Rows slot `slot` holds without allocating.
  virtual int64_t slotCapacity(int32_t slot) const = 0;
  /// Grows every slots[i] to hold rows[i] rows (each <= maxLength), all or
  /// nothing; the error names sequence `ids[i]`.
  virtual llvm::Error growSlots(llvm::ArrayRef<SeqId> ids,
                                llvm::ArrayRef<int64_t> rows) = 0;
  /// Drops capacity the first `rows` rows do not need (0: everything).
  virtual void shrinkSlot(int32_t slot, int64_t rows) = 0;
  /// Fills batch.keyCache/valueCache/blockTable for the batch's sequences
  /// (already checked: live, distinct, grown to lengthsAfter, and in
  /// consecutive slots for a contiguous cache).
  virtual void fillBatchViews(KvBatch &batch) = 0;

  /// Validates `id` for operation `op`; the error says whether it is
  /// unknown or freed.
  llvm::Error checkId(SeqId id, llvm::StringRef op) const;
  void bumpEpoch() { ++epoch; }

  KvDims kvDims;

private:
  llvm::Error checkTokens(SeqId id, int64_t newTokens, llvm::StringRef op,
                          int64_t &rows) const;

  Kind cacheKind;
  int64_t maxLength;
  std::unique_ptr<KvMemory> keyMem, valueMem;
  rt::BufferRef keyRef, valueRef;
  // Per slot.
  std::vector<uint8_t> live;
  std::vector<uint32_t> generation;
  std::vector<int32_t> slotLengths;
  int64_t numLive = 0;
  uint64_t epoch = 0;
  // Step storage, sized once to maxSequences.
  KvBatch batch;
  std::vector<int32_t> beforeStorage, afterStorage, newStorage, uniformScratch;
  llvm::SmallVector<int64_t, 16> rowsScratch;
};

/// Bytes of a `shape` buffer of `dtype`, or an error on int64 overflow.
llvm::Expected<int64_t> checkedBytes(llvm::ArrayRef<int64_t> shape,
                                     rt::DType dtype, llvm::StringRef what);

} // namespace mlir::attn::kv

#endif
