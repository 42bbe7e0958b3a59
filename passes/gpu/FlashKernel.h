//===- FlashKernel.h - the flash kernel emitter, phase by phase -*- C++ -*-===//
//
// The flash kernel is emitted phase by phase; each phase is a member of
// FlashKernelEmitter, defined in the file of the instructions it uses:
//
//   FlashKernel.cpp   driver: arguments, shared-memory plan, the block's
//                     rows and keys, the KV loop
//   TileLoads.cpp     cp.async: Q, the K/V tiles, the prologue
//   Tma.cpp           TMA and mbarriers (wgmma over dense K/V)
//   MmaSync.cpp       ldmatrix + mma.sync: S = Q·Kᵀ and O += P·V
//   Wgmma.cpp         wgmma: S = Q·Kᵀ and O += P·V
//   Softmax.cpp       scores -> probabilities: bias, score_mod, softcap,
//                     masks, online softmax, O rescale
//   Epilogue.cpp      normalize and store the rows; merge key warps
//
// Internal to passes/gpu/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPU_FLASHKERNEL_H
#define ATTN_PASSES_GPU_FLASHKERNEL_H

#include "passes/gpu/KernelBuilder.h"

namespace mlir::attn::gpu_kernels {

/// The state of one iteration of the KV loop (one tile of keys).
struct KvStep {
  Value tile, stage;
  /// Loop-carried: per (m tile, half) row max and partial sum; O fragments
  /// o[mt][t] (4 f32 each).
  SmallVector<Value> m, l;
  Fragments o;
  /// Scores s[mt][t] (4 f32 each) of this warp's keys of the tile.
  Fragments s;
  /// wgmma: the scores of each m tile while their group is in flight.
  SmallVector<SmallVector<Value>> sPending;
  Value keyOff;      ///< first key of this warp in the tile
  Value tileKeyBase; ///< first key of this warp (absolute)
  Value tileKey0;    ///< first key of the tile (absolute)
  Value full;        ///< the tile is visible to every row of the block
  /// Block-sparse: every row of the block lists the tile's KV block.
  Value everyRowListed;
  Value scaleLog2; ///< scale * log2(e) (1 * log2(e) when prescaled)
  /// Per (m tile, half): the raised max, the O correction, the tile's sum.
  SmallVector<Value> newM, corr, sum;
  Value m8, l8; ///< lane / 8, lane % 8 (ldmatrix row addressing)
};

/// How a row is normalized when stored: its outputs times `inv`; `seen`,
/// the base-2 `base` and the sum `l` give its lse (or partial lse).
struct RowScale {
  Value seen, inv, l, base;
};

/// Emits the body of one flash kernel.
class FlashKernelEmitter : public KernelBuilder {
public:
  using KernelBuilder::KernelBuilder;
  void emit(gpu::GPUFuncOp func);
  /// Mixed batches (g.packed): the block's work item, found by the caller
  /// (MixedKernel.cpp) from query_offsets: its sequence, row block of that
  /// sequence's G * n rows, query count n and first packed row.
  struct PackedItem {
    Value batch, rowBlock, queries, firstRow;
  };
  /// The kernel body for `item` at the builder's insertion point inside
  /// `func` (no terminator: the caller's region ends it).
  void emitPacked(gpu::GPUFuncOp func, const PackedItem &item);

private:
  // FlashKernel.cpp: the driver.
  /// Everything from the arguments to the stores (emit() adds the return).
  void emitBody(Block &entry);
  void bindArguments(Block &entry);
  /// Run-time sizes: views of the buffers passed as base pointers.
  void bindRunTimeViews(Block &entry, unsigned argNo);
  /// `base` (a rank-0 memref parameter) as the dense row-major buffer of
  /// `sizes`.
  Value runTimeView(Value base, ArrayRef<OpFoldResult> sizes);
  /// The scratch row of `row` of this block's group and split.
  Value partialRow(Value row);
  /// Calls `store(toPartials)` for the block's split count: once with the
  /// static choice, or with run-time splits under an scf.if on the count
  /// (one split stores final rows, several the partials).
  void ifSplit(function_ref<void(bool toPartials)> store);
  /// Batch, Sq, Skv: constants, or the kernel's size parameters.
  OpFoldResult sizeB() const;
  OpFoldResult sizeSq() const;
  OpFoldResult sizeSkv() const;
  /// Queries of this block's sequence: Sq, or n of a packed item.
  OpFoldResult seqQueries() const;
  /// Indices of element (head h, query s, column d) of this block's
  /// sequence in q / out ([B, H, Sq, D], [B, Sq, H, D], or packed
  /// [T, H, D]) and in the lse.
  SmallVector<Value> qAt(Value h, Value s, Value d);
  SmallVector<Value> lseAt(Value h, Value s);
  /// Rows of the group (G * Sq), the last row and the last key of the K/V
  /// buffers: constants for static sizes.
  Value rowCount();
  Value lastRow();
  Value lastKey();
  void bindThreadIds();
  void planSharedMemory();
  void chooseKeyRange();
  void mapThreadRows();
  /// The KV loop; returns its results (m, l, O of each row half).
  SmallVector<Value> emitKvLoop();
  void emitKvStep(KvStep &st);
  /// Rows of the group: row r is query r / G of head kvHead * G + r % G.
  std::pair<Value, Value> rowHead(Value row);
  /// wgmma: the block's 64-row M tile that m tile `mt` of this thread's
  /// warpgroup is.
  Value mTile(int64_t mt);
  /// Row `lane / 4 + 8 half` of m tile `mt` of this thread.
  Value threadRow(int64_t mt, int64_t half);

  // TileLoads.cpp: cp.async.
  /// Q into registers (one m tile) or shared memory (re-read per k step).
  void loadQ();
  /// The first `stages - 1` tiles in flight.
  void emitPrologue();
  /// Tile index `i` of this block, clamped into its range.
  Value clampedTile(Value i);
  /// Issues the cp.async copies of KV tile `tile` into `stage` as one
  /// group; returns its token.
  Value loadTile(Value tile, Value stage);
  /// The cp.async copies of `dim` columns of the tile's rows from each
  /// (global, shared) pair of `buffers` (K and V together when their dims
  /// agree, so the copies interleave as before dv != d existed).
  void copyTileChunks(SmallVectorImpl<Value> &tokens, Value keyBase,
                      Value stage, int64_t dim,
                      ArrayRef<std::pair<Value, Value>> buffers);
  /// Element-wise copy of `rows` x `padCols` into `dst` at [dstPrefix...,
  /// row, col] from `mem` at `src(row, col)`, zeros past column `cols`
  /// (head dims that are not multiples of 8).
  void copyElements(Value dst, ArrayRef<Value> dstPrefix, int64_t rows,
                    int64_t padCols, int64_t cols,
                    function_ref<SmallVector<Value>(Value row, Value col)> src,
                    Value mem);
  /// Indices of element `col` of key row `key` in the K/V memrefs.
  SmallVector<Value> kvIndices(Value key, Value col);
  /// Where the 8-element chunk starting at column `col` of shared row `row`
  /// sits in the 128-byte-swizzled layout: its 64-column block and its
  /// column inside the block (16-byte chunk index XOR row % 8, the pattern
  /// wgmma's 128B swizzle mode reads).
  std::pair<Value, Value> swizzledColumn(Value row, Value col);
  /// Waits for the tile of step `st` (and prefetches the one S - 1 ahead).
  void awaitTile(KvStep &st, Value it);

  // Tma.cpp: TMA and mbarriers.
  /// One mbarrier per stage, initialized by thread 0.
  void initTmaBarriers();
  /// Runs `body` where tile `i` of the block exists (TMA copies only tiles
  /// the block owns, so every armed phase is waited for).
  void ifOwned(Value i, function_ref<void()> body);
  /// Thread 0 arms `stage`'s mbarrier with the tile's bytes and issues the
  /// bulk tensor copies of K and V tile `tile` into it.
  void loadTileTma(Value tile, Value stage);
  /// Spins until `stage`'s mbarrier completes phase `parity`.
  void waitTileTma(Value stage, Value parity);
  /// An i32 shared-window address as the shared (3) pointer the NVVM
  /// mbarrier ops take.
  Value sharedPtr(Value addr);
  /// Orders this thread's generic-proxy shared writes before the async
  /// proxy (tensor cores, TMA) reads them.
  void fenceProxyAsync();

  // MmaSync.cpp (ldmatrix4 and mma are KernelBuilder's).
  void scoresOnMmaSync(KvStep &st);
  void pvOnMmaSync(KvStep &st);

  // Wgmma.cpp. Accumulators are lists of f32 in the fragment order of
  // wgmma.m64nNk16: element 4t + i is element i of n tile t in the
  // mma.m16n8 C layout, for the 16 rows of this thread's warp.
  /// A shared-memory matrix descriptor: start address, leading and stride
  /// byte offsets, 128-byte swizzle.
  Value wgmmaDescriptor(Value addr, int64_t leadingBytes, int64_t strideBytes);
  /// acc = A·B (+ acc unless `accumulate` is false) for one k16 step; A
  /// from the descriptor `aDesc` or, when `aRegs` is non-empty, the 4
  /// registers of an m16k16 A fragment per warp; B from `bDesc`, read
  /// MN-major when `transposeB`.
  void wgmma(SmallVectorImpl<Value> &acc, Value aDesc, ArrayRef<Value> aRegs,
             Value bDesc, bool transposeB, bool accumulate);
  /// Closes the wgmma issued since the last commit into one group.
  void wgmmaCommit();
  /// Waits until at most `pending` groups are in flight; `acc` (the
  /// accumulators of the groups that are done) comes back through the
  /// wait so no read of them can move above it.
  void wgmmaWait(int64_t pending, SmallVectorImpl<Value> &acc);
  /// Rewrites `values` through `first` (attn_ptx.wgmma_wait_group or
  /// wgmma_fence on the first 64 registers) and attn_ptx.pin (the rest, 64
  /// at a time), so no use of them moves above the instruction.
  void pinRegisters(SmallVectorImpl<Value> &values,
                    function_ref<Value(Value)> first);
  /// Issues S = Q·Kᵀ of each m tile as one commit group (st.sPending).
  void scoresOnWgmma(KvStep &st);
  /// Per m tile: waits for its S, turns it into P, issues O += P·V.
  void pvOnWgmma(KvStep &st);

  // Softmax.cpp: scores -> probabilities.
  /// Whether every score of the tile is visible (st.full).
  Value tileFullyVisible(KvStep &st);
  /// Bias, score_mod, softcap, masks and the online softmax of m tiles
  /// [mtLo, mtHi): s becomes P, O is rescaled.
  void scoresToProbabilities(KvStep &st, int64_t mtLo, int64_t mtHi);
  /// Calls `body(score, head, query, key)` for each score of m tiles
  /// [mtLo, mtHi) (keys past the end clamped to the last one).
  void forEachScore(KvStep &st, int64_t mtLo, int64_t mtHi,
                    function_ref<void(Value &, Value, Value, Value)> body);
  void applyBias(KvStep &st, int64_t mtLo, int64_t mtHi);
  void applyScoreMod(KvStep &st, int64_t mtLo, int64_t mtHi);
  void applySoftcap(KvStep &st, int64_t mtLo, int64_t mtHi);
  void applyMask(KvStep &st, int64_t mtLo, int64_t mtHi);
  void onlineSoftmax(KvStep &st, int64_t mtLo, int64_t mtHi);

  // Dropout.cpp.
  /// Loads the Philox key (the seed's halves) and counter word 3 (the
  /// offset) from the dropout state.
  void loadDropoutState();
  /// Scales the probabilities of m tiles [mtLo, mtHi) by their keep bits
  /// over (1 - p), after the row sums took them (as PyTorch, dropout
  /// after the softmax).
  void applyDropout(KvStep &st, int64_t mtLo, int64_t mtHi);
  /// Whether query position `qpos` may see key `key` (MaskSpec::allows).
  Value allows(Value qpos, Value key);
  /// The data-dependent masks (bool mask, segment ids, mask_mod) of query
  /// `sIdx` of head `h` and key `key` (in bounds).
  Value customAllows(Value h, Value sIdx, Value key);
  /// Clones `region`'s block here with its arguments bound to `args` (and
  /// the constants it captures cloned first); returns the yielded value.
  Value inlineModifier(Region &region, ValueRange args);

  // BlockSparse.cpp: the KV loop over a block mask's lists.
  Value i32c(int64_t v);
  /// Bit `bit` (index) of the i32 `word`, as i1.
  Value bitOf(Value word, Value bit);
  /// The bitmap of listed KV blocks of each (head slot, query block) pair
  /// of the block, query blocks up to `qbHi`.
  void fillPairBitmaps(Value qbHi);
  /// The union of the block's lists (blocks overlapping [loKey, hiKey))
  /// into shared memory; returns its tile count.
  Value buildBlockList(Value loKey, Value hiKey);
  /// The KV tile of the block's tile `i` (itself without a block mask);
  /// with `everyRow`, whether every row lists its block.
  Value kvTile(Value i, Value *everyRow = nullptr);
  /// Whether query `sIdx` of head `h` lists KV block `kb`.
  Value rowListsBlock(Value h, Value sIdx, Value kb);

  // Epilogue.cpp.
  /// One key warp per row: normalize in registers, store the fragments.
  void storeRows(ArrayRef<Value> res);
  /// Row half `hI` of this thread (row `row`: head `h`, query `sIdx`),
  /// scaled by `rs.inv`: to the output (and lse) or to the partials.
  void storeRow(ArrayRef<Value> res, int64_t hI, const RowScale &rs, Value row,
                Value h, Value sIdx, bool toPartials);
  /// The final scale of a row of head `h` with the head's sink counted
  /// (rows stored to the output; split rows get theirs in the combine).
  RowScale withSink(const RowScale &rs, Value h);
  /// Stores columns `col` and `col + 1` of a row (those inside Dv) one
  /// element at a time, to the output or (when `prow` is set) the split
  /// row `prow`.
  void storeElements(Value x0, Value x1, Value col, Value h, Value sIdx,
                     Value prow);
  /// Several key warps per row: merge their states through shared memory.
  void mergeKeyWarps(ArrayRef<Value> res, Value r16);

  // Kernel arguments.
  Value q, k, v, bias, kvLengths, blockTable, out, lseOut, partOut, partLse;
  Value sinks; ///< [Hq] f32 sink logits
  Value boolMask, qSegments, kvSegments, dropoutState;
  /// Dropout: the Philox key words and counter word 3 (i32).
  Value philoxKey0, philoxKey1, philoxOffset;
  Value kvNumBlocks, kvBlockLists; ///< block_mask: counts, lists
  Value queryOffsets;    ///< packed: [B + 1] i32
  PackedItem packedItem; ///< packed: this block's work item
  Value tensorMapK, tensorMapV; ///< TMA: generic addresses of the maps
  /// Run-time sizes: the batch, Sq and Skv parameters (index); paged
  /// caches also the page count and the block-table width.
  Value batchSize, qLenSize, kvLenSize, numPagesSize, tableWidthSize;
  /// Run-time splits: the split count parameter (index).
  Value numSplits;

  // Thread and block.
  Value tid, lane, warp, rw, kw;
  Value batch, kvHead, rowBlock, split;

  // Shared memory.
  Value raw;
  Value kSmem, vSmem, qSmem, oSmem, mSmem, lSmem;
  Value smemBase;    ///< wgmma: shared-window address of the aligned K tiles
  Value barrierBase; ///< TMA: shared address of stage 0's mbarrier (i32)
  /// Block-sparse: the pairs' bitmaps then the union list (i32).
  Value sparseSmem;
  Value sparseQb0; ///< block-sparse: the block's first query block

  // The block's rows and keys.
  Value row0;           ///< first row of the block
  Value len;            ///< this block's sequence length (keys that exist)
  Value qOff;           ///< position of query 0
  Value qlo, qhi;       ///< first and last query position of the block
  Value myLo, numTiles; ///< this block's KV tiles: [myLo, myLo + numTiles)
  Value warpRow0, colPair;
  /// Per (m tile, half) of this thread: query position, (head, query).
  SmallVector<Value> qpos;
  SmallVector<std::pair<Value, Value>> heads;

  // Q and the copies in flight.
  SmallVector<SmallVector<Value, 4>> qFrag; ///< [k step]: Q in registers
  Value qGroup;                             ///< cp.async group of Q (shared)
  Value firstGroup; ///< cp.async: the prologue's first group
};

} // namespace mlir::attn::gpu_kernels

#endif
