//===- FlashEmitter.h - the flash form shared by attention lowerings -*- C++
//-*-===//
//
// Emits the flash form of one attention problem on buffers: an scf.forall
// over work items (batch × K/V head × query block × KV split), and inside
// each item a loop over KV tiles of tile-level attn ops. attn.attention
// (attn-tile-flash) and attn.cache_attention (attn-lower-cache-ops) both
// describe their operands as a FlashProblem and share this code.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_FLASHEMITTER_H
#define ATTN_PASSES_FLASHEMITTER_H

#include "dialect/AttnOps.h"
#include "passes/IndexMath.h"
#include "passes/RopeEmitter.h"

#include <functional>
#include <optional>

namespace mlir::attn {

/// Sizes of a lowered attention and the tiling chosen for it. batch, qLen,
/// kvCapacity, qBlocks and splits may be ShapedType::kDynamic (run-time
/// sizes: materializeSizes reads them from the buffers); everything else,
/// the tiles included, is static.
struct FlashGeometry {
  int64_t batch, heads, kvHeads, group, qLen, headDim, valueDim;
  int64_t kvCapacity;  ///< keys the K/V buffers can hold (Skv, Smax, pages)
  int64_t tq;          ///< queries per head in a work item
  int64_t rows;        ///< group * tq: query rows of a work item
  int64_t rowsPad;     ///< rows padded to whole vectors
  int64_t tk;          ///< keys per KV tile
  int64_t dvPad;       ///< valueDim padded to whole vectors
  int64_t qBlocks;     ///< query blocks per (batch, K/V head)
  int64_t splits;      ///< KV splits per query block (flash-decoding)
  int64_t parallelism; ///< cores the split cost model fills
  /// Work items, or kDynamic.
  int64_t workItems() const;
  /// True when any size is a run-time one.
  bool isDynamic() const;
  /// A few query rows (decode): scores are dot products along D against
  /// row-major Q rather than outer products against Qᵀ.
  bool dotProductScores() const;
  /// Full K/V tiles are read in place (no f32 pack): decode-shaped items
  /// with whole-vector head dims.
  bool readsInPlace() const;
};

/// Picks tile sizes for the given problem sizes (batch, qLen and
/// kvCapacity may be kDynamic) and the KV-split count: `kvSplits` when
/// positive, else the cost model (kvSplitModel) on static sizes, else
/// kDynamic (chosen in the kernel by the same model). Fails with a reason
/// in `error` for unsupported options.
FailureOr<FlashGeometry>
chooseFlashGeometry(int64_t batch, int64_t heads, int64_t kvHeads, int64_t qLen,
                    int64_t headDim, int64_t valueDim, int64_t kvCapacity,
                    int64_t pageSize, int64_t tileRows, int64_t tileKv,
                    int64_t kvSplits, int64_t parallelism, std::string &error);

/// The KV-split cost model, written once for static sizes (IntMath) and
/// run-time ones (IndexMath): enough items for every core (with slack for
/// uneven lengths) while each split keeps >= 512 keys; 1 for no items.
template <typename Math>
typename Math::Size kvSplitModel(const Math &m, typename Math::Size baseItems,
                                 typename Math::Size kvCapacity,
                                 int64_t parallelism) {
  constexpr int64_t kMinKeysPerSplit = 512;
  auto one = m.size(1);
  auto wanted = m.ceilDiv(m.size(4 * parallelism), m.max(baseItems, one));
  auto most = m.max(one, m.div(kvCapacity, m.size(kMinKeysPerSplit)));
  return m.selectLeZero(baseItems, one, m.min(m.max(wanted, one), most));
}

/// kvSplitModel on static sizes.
int64_t chooseKvSplits(int64_t baseItems, int64_t kvCapacity,
                       int64_t parallelism);

struct FlashProblem {
  /// Logical [B, Hq, Sq, D] queries and [B, Hq, Sq, Dv] output (unit inner
  /// stride); optional [B, Hq, Sq] f32 log-sum-exp.
  Value query, output, lse;
  /// Contiguous logical [B, Hkv, S, D] / [.., Dv]; or, with `blockTable`
  /// ([B, max_pages] i32), page pools [P, page_size, Hkv, D] / [.., Dv]
  /// (or [P, Hkv, page_size, D] with `headMajorPages`).
  Value key, value, blockTable;
  int64_t pageSize = 0;
  /// Paged pools are head-major, [P, Hkv, page_size, D] (FlashInfer "HND").
  bool headMajorPages = false;
  /// Optional [B] i32 valid keys per sequence.
  Value kvLengths;
  /// Optional [Hq] f32 attention-sink logits (one per query head).
  Value sinks;
  /// Optional block-sparse mask (attn.attention's block_mask):
  /// kvNumBlocks [B', H', Qblocks] and kvIndices [B', H', Qblocks, maxBlocks]
  /// i32, B' 1 or B (a run-time B' is B), H' 1 or Hq.
  /// The geometry's tq divides blockQ and tk divides blockKv, so an item
  /// lies in one query block and a KV tile in one KV block.
  Value kvNumBlocks, kvIndices;
  int64_t blockQ = 0, blockKv = 0;
  /// Optional dropout: a [2] i64 buffer (seed, offset) and the drop
  /// probability; the weights of each KV tile are dropped after the online
  /// softmax's exp (the row sums stay undropped). p = 0 emits nothing.
  Value dropoutState;
  double dropoutP = 0;
  /// Optional rotary embedding of the queries (cache attention): query q
  /// is rotated by its position (qPos below) before the scores.
  RotaryOperands rotary;
  /// Queries are the last Sq tokens of each sequence (cache attention):
  /// query q sits at position kvLength - Sq + q.
  bool queriesAtEnd = false;
  /// Packed queries of a mixed batch (cache attention with query_offsets):
  /// query [T, Hq, D], output [T, Hq, Dv], lse [T, Hq]; the caller places
  /// each item (emitFlashItem) with its first row and its sequence's query
  /// count.
  bool packedQueries = false;
  float scale = 1.0f;
  FloatAttr softcap;
  MaskAttr mask;
  /// Optional per-score steps on the key-major score tile, called inside
  /// the KV loop with (batch, K/V head, first query, first key, scores).
  using ScoreHook = std::function<void(ImplicitLocOpBuilder &, Value, Value,
                                       Value, Value, Value)>;
  ScoreHook scoreMods, customMasks;
};

/// Marks `forall` as the work-item loop attn-parallel-to-runtime hands to
/// the runtime (attn.work_items, AttnBase.td); its bound is the item count.
inline void markWorkItems(Operation *forall) {
  AttnDialect::WorkItemsAttrHelper(forall->getContext())
      .setAttr(forall, UnitAttr::get(forall->getContext()));
}

/// The split-KV scratch of one flash problem is marked for
/// attn-parallel-to-runtime: its `memref.alloc` with attn.split_scratch (the
/// bytes per work item; its operand is the total, which is 0 when run-time
/// sizes leave a single split), the zero fill of its arrival counters and
/// its `memref.dealloc` with attn.split_scratch_use. The pass turns the
/// allocation into a kernel argument that the runtime allocates, zeroed,
/// per call, so concurrent runs of one kernel share nothing.

/// The split-KV scratch of one work item: its arrival counter (one cache
/// line: no false sharing between neighbouring query blocks), its partial
/// lse rows and its partial output rows. The whole scratch is work items ×
/// perItem(), laid out array by array.
struct SplitScratchLayout {
  int64_t counterBytes, lseBytes, outBytes;
  int64_t perItem() const { return counterBytes + lseBytes + outBytes; }
};
SplitScratchLayout splitScratchLayout(const FlashGeometry &g);

/// The sizes of FlashGeometry as the kernel sees them: static ones as
/// index attributes, run-time ones as Values (memref.dim of the problem's
/// buffers and the cost model on them).
struct FlashSizes {
  OpFoldResult batch, qLen, kvCapacity, qBlocks, splits;
  /// batch × K/V heads × query blocks × splits.
  OpFoldResult items;
  /// Block-table width (paged caches; null otherwise).
  OpFoldResult tableSlots;
};

/// Emits what the run-time sizes of `g` need at the builder's insertion
/// point (nothing for a static problem).
FlashSizes materializeSizes(ImplicitLocOpBuilder &b, const FlashGeometry &g,
                            const FlashProblem &p);

/// Emits the whole problem at the builder's insertion point. With KV
/// splits, the partials and arrival counters live in one per-call scratch
/// allocation (see markWorkItems).
void emitFlash(ImplicitLocOpBuilder &b, const FlashGeometry &g,
               const FlashSizes &s, const FlashProblem &p);

/// A work item the caller placed: its sequence (b0) and K/V head, its
/// first query within the sequence (q0) and how many of the geometry's tq
/// it holds (qValid), its first row in the query views (qRow: q0, or a
/// packed row) and its sequence's query count (qCount: positions are
/// kvLength - qCount + q).
struct FlashItem {
  Value item, b0, hkv, q0, qValid, qRow, qCount;
};

/// Emits one work item's body (tiles, queries, the KV loop, the stores) at
/// the builder's insertion point, for a geometry without KV splits. Its
/// stack tiles belong to the enclosing allocation scope.
void emitFlashItem(ImplicitLocOpBuilder &b, const FlashGeometry &g,
                   const FlashSizes &s, const FlashProblem &p,
                   const FlashItem &item);

/// Where a work item sits, for the block-sparse loops: its batch, K/V head,
/// first query and the KV tiles that exist.
struct BlockLoopPlace {
  Value b0, hkv, q0, tiles;
};

/// Per-query-head lists under GQA: the item's [group, kvBlocks] i8 bitmap
/// of its heads' lists and the KV block being visited.
struct HeadBlockMask {
  Value bits, block;
};

/// Block-sparse (BlockSparseLoops.cpp): instead of the dense KV-tile loop,
/// a loop over the item's listed KV blocks (`p.kvNumBlocks` entries of
/// `p.kvIndices`, split by `splitRange(n)`: [begin, end) of n for the
/// item's KV split), calling `tileLoop(first, last, heads)` for the tiles
/// [first, last) of each block. With per-query-head lists under GQA the
/// loop visits every block some head of the group lists and passes the
/// bitmap (`heads`), for maskUnlistedHeads in each tile.
void emitBlockSparseLoops(
    ImplicitLocOpBuilder &b, const FlashGeometry &g, const FlashSizes &s,
    const FlashProblem &p, const BlockLoopPlace &at,
    function_ref<std::pair<Value, Value>(Value)> splitRange,
    function_ref<void(Value, Value, std::optional<HeadBlockMask>)> tileLoop);

/// Sets the scores of the heads whose list lacks `mask.block` to -inf in the
/// key-major score tile `scores` ([tk, rowsPad], tq columns per head).
void maskUnlistedHeads(ImplicitLocOpBuilder &b, const FlashGeometry &g,
                       const HeadBlockMask &mask, Value scores);

/// Lowers one attn.attention_grad (static sizes) to the backward's flash
/// form (FlashBackward.cpp): one work-item loop of K/V items (dK, dV) and
/// query items (dQ). Fails, located, on what it does not take yet.
LogicalResult lowerAttentionGrad(AttentionGradOp op, int64_t tileRows,
                                 int64_t tileKv, int64_t parallelism);

/// Lowers one attn.additive_attention (AdditiveLowering.cpp) to a work-item
/// loop over (batch, query chunk): key/query projections by tile_matmul,
/// then the flash loop with tile_additive_scores as the score step. Fails,
/// located, on static-only sizes that are `?`.
LogicalResult lowerAdditiveAttention(AdditiveAttentionOp op, int64_t tileRows,
                                     int64_t tileKv);

/// A rank-reduced view of `source` at `offsets` with `sizes` and the given
/// result shape (size-1 leading dims dropped).
Value rankReducedView(ImplicitLocOpBuilder &b, Value source,
                      ArrayRef<OpFoldResult> offsets,
                      ArrayRef<OpFoldResult> sizes,
                      ArrayRef<int64_t> resultShape);

/// `tensor` (an op's operand) read as a strided memref (the innermost
/// stride static 1 when `unitInner`); null for a null tensor.
Value tensorAsBuffer(ImplicitLocOpBuilder &b, Value tensor, bool unitInner);

/// A logical [B, H, S, D] view of a q/k/v/output buffer in `layout`.
Value logicalView(ImplicitLocOpBuilder &b, Value buffer, Layout layout);

/// Where `op`'s tensor result `result` is written: the destination of its
/// only user when that is a materialize_in_destination into a memref (the
/// user is queued on `toErase`), else a new allocation of `dynSizes()`
/// whose tensor then replaces the result's uses after `op`.
Value resultBuffer(ImplicitLocOpBuilder &b, Operation *op, Value result,
                   bool unitInner,
                   llvm::function_ref<SmallVector<Value>()> dynSizes,
                   SmallVectorImpl<Operation *> &toErase);

/// memref<shape x elt> with fully dynamic strides and offset (the innermost
/// stride static 1 when `unitInner`).
MemRefType stridedMemRefType(MLIRContext *ctx, ArrayRef<int64_t> shape,
                             Type elt, bool unitInner);

} // namespace mlir::attn

#endif
