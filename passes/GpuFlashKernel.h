//===- GpuFlashKernel.h - FlashAttention-2 kernels as gpu.func -*- C++ -*-===//
//
// The geometry of one attention on the GPU and the emitters of its kernels
// (the tiled flash kernel, the split-KV combine kernel, the KV-cache append
// kernel; implemented under passes/gpu/). The pass in GpuFlash.cpp decides
// the geometry and rewrites the host function; this header is what the two
// share.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPUFLASHKERNEL_H
#define ATTN_PASSES_GPUFLASHKERNEL_H

#include "common/Rope.h"
#include "dialect/MaskSpec.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::attn {

/// How one attn.attention maps onto thread blocks and warps.
///
/// Rows of a (batch, KV head) group are (query, head-in-group) pairs,
/// row r = s * group + g, so a block's K/V tile serves every query head of
/// the group. A block has `rowWarps * keyWarps` warps (128 threads): each
/// warp owns 16 rows (one mma.m16n8k16 M tile) and `keyWarps` warps share a
/// row tile by splitting each KV tile's keys (decode-sized groups), merging
/// their softmax states through shared memory at the end.
/// Where K/V rows come from: the attention's own tensors, or a KV cache
/// (attn.cache_attention): contiguous [B, Hkv, Smax, D] or pages
/// [P, page, Hkv, D] (NHD) / [P, Hkv, page, D] (HND) through a block table.
enum class GpuKvForm { Dense, Contiguous, PagedNHD, PagedHND };

struct GpuFlashGeometry {
  int64_t batch = 0, heads = 0, kvHeads = 0, group = 0;
  GpuKvForm kvForm = GpuKvForm::Dense;
  int64_t numPages = 0, pageSize = 0, pagesPerSeq = 0; ///< paged caches
  /// Queries are the last Sq tokens of each sequence (cache attention):
  /// query s sits at kv_lengths[b] - Sq + s.
  bool endAlignedQueries = false;
  bool paged() const {
    return kvForm == GpuKvForm::PagedNHD || kvForm == GpuKvForm::PagedHND;
  }
  /// kvLen: keys a sequence can hold (the tensor length, or the cache
  /// capacity: Smax, or pagesPerSeq * pageSize).
  int64_t qLen = 0, kvLen = 0, headDim = 0;
  /// Dv, the head dim of V and the output (0: equal to headDim).
  int64_t valueDim = 0;
  int64_t vDim() const { return valueDim ? valueDim : headDim; }
  /// The head dims the kernel computes with: rounded up to 8 (one mma n
  /// tile); the columns past the true dim are zeros in shared memory (Q·Kᵀ
  /// is unchanged) and never stored (V, O).
  static int64_t roundUp8(int64_t d) { return (d + 7) / 8 * 8; }
  int64_t dPad() const { return roundUp8(headDim); }
  int64_t dvPad() const { return roundUp8(vDim()); }
  /// A head dim that is not a multiple of 8: rows in memory are not
  /// 16-byte aligned, so Q, K and V move element by element (zero-filled to
  /// the padded dim) and the output is stored element by element.
  bool elementLoads() const { return headDim % 8 != 0 || vDim() % 8 != 0; }
  /// Run-time sizes (`?`): the kernel reads batch, Sq and Skv from three
  /// index parameters after the others, and its buffers through views of
  /// those sizes; `batch`, `qLen` and `kvLen` then hold the sizes the tiles
  /// were chosen for (a long prefill), not the call's; the split count
  /// is chosen per call (runTimeSplits).
  /// KV caches: `dynKvLen` is a run-time capacity (contiguous Smax, or the
  /// block-table width); `dynPages` a run-time page count of the pool.
  /// Paged kernels of run-time sizes take two more index parameters, the
  /// page count and the block-table width (the capacity is width * page).
  bool dynBatch = false, dynQLen = false, dynKvLen = false, dynPages = false;
  bool dynamicSizes() const {
    return dynBatch || dynQLen || dynKvLen || dynPages;
  }
  /// Index parameters of a kernel of run-time sizes.
  int64_t numSizeParams() const {
    return dynamicSizes() ? (paged() ? 5 : 3) : 0;
  }
  bool bshd = false; ///< layout of q/k/v/out
  bool bf16 = true;  ///< else f16
  bool hasKvLengths = false;
  bool hasLse = false; ///< also write the natural-log lse [B, Hq, Sq] (f32)
  /// Additive bias broadcastable to [B, Hq, Sq, Skv] (empty: none), and its
  /// element type.
  SmallVector<int64_t, 4> biasShape;
  Type biasType;
  bool hasBias() const { return !biasShape.empty(); }
  /// Boolean mask broadcastable to [B, Hq, Sq, Skv] (i1; empty: none).
  SmallVector<int64_t, 4> boolMaskShape;
  bool hasBoolMask() const { return !boolMaskShape.empty(); }
  /// Segment ids [B, Sq] and [B, Skv] (i32): a query sees its segment.
  bool hasSegments = false;
  /// Dropout on the attention weights: the [seed, offset] i64 state is a
  /// kernel argument when the op has one; the Philox keep bits (of
  /// common/Philox.h) are drawn only when the rate is above 0, so rate 0
  /// is the plain kernel.
  bool hasDropoutState = false;
  double dropoutP = 0.0;
  bool dropsWeights() const { return hasDropoutState && dropoutP > 0.0; }
  /// Attention sinks [Hq] f32 (natural-log logits): the rows' final
  /// normalization counts exp(sinks[h]) once in the denominator and lse
  /// (the epilogue of an unsplit row, or the combine kernel of split ones).
  bool hasSinks = false;
  /// FlexAttention-style regions of the op, inlined per score (null: none);
  /// they capture nothing but constants (checked by the pass).
  Region *scoreMod = nullptr, *maskMod = nullptr;
  /// Masks that depend on data: every tile evaluates them per score.
  bool hasCustomMask() const { return hasBoolMask() || hasSegments || maskMod; }
  /// Scores are scaled before the exponent (bias, score_mod or softcap).
  bool prescaled() const { return hasBias() || scoreMod || softcap > 0; }
  MaskSpec mask;
  float scale = 1;
  float softcap = 0; ///< > 0: logits become softcap * tanh(logit / softcap)

  int64_t rowWarps = 4, keyWarps = 1;
  int64_t warpRowTiles = 1; ///< 16-row mma tiles per warp
  int64_t tileKv = 64;      ///< keys per KV tile (shared by the block)
  int64_t splits = 1;       ///< KV splits across blocks (flash-decoding)
  /// Run-time sizes: the split count is a kernel parameter the host picks
  /// per call (gpuKvSplits on the call's sizes and the device's SM count);
  /// `splits` stays 1. The kernel takes both the output (one split: rows
  /// stored directly) and the partials of run-time size (several: the
  /// combine kernel, launched only then, merges them).
  bool runTimeSplits = false;
  int64_t stages = 2; ///< K/V tiles in flight (cp.async double buffer)
  /// Hopper (sm_90a) prefill: the block is one warpgroup whose two 64-row
  /// halves run Q·Kᵀ (A and B from shared memory) and P·V (P from
  /// registers, V from shared memory) as asynchronous wgmma; K, V and Q
  /// sit in shared memory in the 128-byte-swizzled layout the wgmma
  /// descriptors name, instead of the padded rows ldmatrix reads.
  bool wgmma = false;
  /// With wgmma over dense K/V: tiles arrive by the bulk tensor copy engine
  /// (TMA, `cp.async.bulk.tensor` issued by one thread, completing on an
  /// mbarrier per stage) from tensor maps the runtime encodes per launch
  /// (two extra kernel parameters), instead of per-thread cp.async.
  bool tma = false;
  /// Block-sparse mask (block_mask, FlexAttention's BlockMask): query and
  /// KV block sizes (sparseKvBlock 0: none), the list shapes' batch and
  /// head extents (1: broadcast) and their query blocks and list capacity.
  /// A row block iterates the union of the lists of the (head, query
  /// block) pairs its rows cover, built in shared memory at the start
  /// (sparseBytes: a bitmap of listed KV blocks per pair, then the union
  /// as an ascending list); keys of a block outside a row's own list are
  /// masked. Each KV block is sparseKvBlock / tileKv whole tiles.
  int64_t sparseQBlock = 0, sparseKvBlock = 0;
  int64_t sparseBatch = 1, sparseHeads = 1, sparseQBlocks = 0,
          sparseMaxBlocks = 0;
  bool blockSparse() const { return sparseKvBlock > 0; }
  int64_t sparseKvBlocks() const {
    return (kvLen + sparseKvBlock - 1) / sparseKvBlock;
  }
  int64_t sparseWords() const { return (sparseKvBlocks() + 31) / 32; }
  /// Query blocks one row block can touch: its rows span at most
  /// (blockRows - 1) / group + 2 consecutive queries.
  int64_t sparseQBlocksPerRowBlock() const {
    int64_t span = (blockRows() - 1) / group + 2;
    return std::min(sparseQBlocks,
                    (span + sparseQBlock - 2) / sparseQBlock + 1);
  }
  int64_t sparseHeadSlots() const { return sparseHeads == 1 ? 1 : group; }
  int64_t sparsePairs() const {
    return sparseHeadSlots() * sparseQBlocksPerRowBlock();
  }
  /// The pairs' bitmaps (i32 words), then the union list (one i32 per KV
  /// block: the block, bit 30 set when every pair lists it).
  int64_t sparseBytes() const {
    return blockSparse()
               ? (sparsePairs() * sparseWords() + sparseKvBlocks()) * 4
               : 0;
  }
  /// Mixed batches (attn.cache_attention with query_offsets): q and out
  /// are packed [T, H, D], lse [T, H], and a [B + 1] i32 query_offsets
  /// parameter follows kv_lengths; the Sq size parameter is T. Each block
  /// serves one sequence's rows, found by emitMixedFlashKernel.
  bool packed = false;

  static constexpr int64_t kWarpSize = 32;
  static constexpr int64_t kRowsPerWarp = 16;
  /// Shared-memory rows are padded by 8 elements (16 bytes) so that the 8
  /// row addresses of an ldmatrix hit distinct banks.
  static constexpr int64_t kRowPad = 8;
  /// wgmma operands: 64-element (128-byte) column blocks, 8-row swizzle
  /// atoms of 1024 bytes that must start 1024-byte aligned.
  static constexpr int64_t kSwizzleElems = 64;
  static constexpr int64_t kSwizzleAtomBytes = 1024;

  int64_t rows() const { return group * qLen; }
  int64_t warps() const { return rowWarps * keyWarps; }
  int64_t threads() const { return warps() * kWarpSize; }
  int64_t warpRows() const { return warpRowTiles * kRowsPerWarp; }
  int64_t blockRows() const { return rowWarps * warpRows(); }
  /// With several m tiles per warp, Q fragments are re-read from shared
  /// memory per k step instead of occupying registers for the whole loop.
  /// So are head dims above 128 (one m tile's Q fragments would take 64
  /// registers beside O) and element-wise loads (no aligned pairs).
  bool qInShared() const {
    return warpRowTiles > 1 || wgmma || headDim > 128 || elementLoads();
  }
  int64_t warpKeys() const { return tileKv / keyWarps; }
  int64_t rowBlocks() const { return (rows() + blockRows() - 1) / blockRows(); }
  int64_t numKvTiles() const { return (kvLen + tileKv - 1) / tileKv; }
  /// Shared-memory row of K and Q (`d`: dPad()) or V (dvPad()): padded so
  /// that the row is an odd number of 16-byte chunks (the 8 row addresses
  /// of an ldmatrix hit distinct banks); wgmma rows are unpadded.
  int64_t smemRowElems(int64_t d) const {
    if (wgmma)
      return d;
    return (d / 8) % 2 == 1 ? d : d + kRowPad;
  }
  int64_t smemRowElems() const { return smemRowElems(dPad()); }
  int64_t smemRowElemsV() const { return smemRowElems(dvPad()); }
  int64_t colBlocks() const { return headDim / kSwizzleElems; }
  int64_t colBlocksV() const { return vDim() / kSwizzleElems; }
  int64_t stageBytes() const {
    return tileKv * (smemRowElems() + smemRowElemsV()) * 2;
  }
  int64_t qBytes() const {
    return qInShared() ? blockRows() * smemRowElems() * 2 : 0;
  }
  /// TMA: one 8-byte mbarrier per stage, after the tiles and Q.
  int64_t barrierBytes() const { return tma ? 8 * stages : 0; }
  /// The block-sparse lists: after the tiles, Q and the barriers.
  int64_t sparseOffset() const {
    return stages * stageBytes() + qBytes() + barrierBytes();
  }
  int64_t combineBytes() const {
    return warps() * warpRows() * (dvPad() + 2) * 4;
  }
  int64_t sharedBytes() const {
    // wgmma: slack to align the dynamic shared memory to a swizzle atom.
    return std::max(sparseOffset() + sparseBytes(), combineBytes()) +
           (wgmma ? kSwizzleAtomBytes : 0);
  }
  /// Rows of the split scratch buffers (`?` with run-time splits).
  int64_t scratchRows() const {
    return runTimeSplits ? ShapedType::kDynamic
                         : batch * kvHeads * rows() * splits;
  }
};

/// Flash-decoding's split count for a grid of `blocks` thread blocks (row
/// blocks x KV heads x batch) on `numSms` SMs: when fewer than two blocks
/// per SM exist, split the KV range aiming at ~8 blocks per SM, at most
/// `maxSplits` (gpuKvSplitCap); 1 when the grid already fills the SMs.
/// One function for both: the pass calls it on static sizes, the runtime
/// at launch on the call's sizes (kernels of run-time sizes).
int64_t gpuKvSplits(int64_t blocks, int64_t maxSplits, int64_t numSms);
/// The most splits worth their traffic over `kvLen` keys in `kvTiles`
/// tiles for `rows` rows per KV head group: each split keeps at least 4
/// tiles, and its partial outputs (written, then read by the combine
/// kernel) stay under ~3% of the K/V bytes. At least 1.
int64_t gpuKvSplitCap(int64_t kvTiles, int64_t kvLen, int64_t rows);
/// The host function kernels of run-time sizes call for their split count:
/// `func.call @attn_gpu_kv_splits(%blocks, %max_splits, %num_sms)` (index
/// operands, the last a constant: the pipeline's SM count, used when the
/// device's is unknown); the runtime evaluates it as gpuKvSplits.
constexpr const char *kGpuKvSplitsFunc = "attn_gpu_kv_splits";

/// Checks what the kernels support; on failure `why` says what is missing.
LogicalResult checkGpuFlashSupport(const GpuFlashGeometry &g, std::string &why);

/// User overrides of the geometry (0: chosen from the shape).
struct GpuFlashOverrides {
  int64_t kvSplits = 0, tileKv = 0, warpRowTiles = 0, stages = 0;
  GpuMmaKind mma = GpuMmaKind::Sync;
  /// Warps splitting each KV tile's keys in decode-sized groups (0: fill
  /// a 4-warp block).
  int64_t keyWarps = 0;
  /// wgmma kernels over dense K/V load tiles with TMA (else cp.async).
  bool tma = true;
};

/// Picks warps, tiles and KV splits for a problem already filled in `g`
/// (shape, dtype, mask); fails (with `why`) on overrides the kernel cannot
/// honour.
LogicalResult chooseGpuFlashGeometry(GpuFlashGeometry &g,
                                     const GpuFlashOverrides &overrides,
                                     int64_t numSms, std::string &why);

/// Kernel parameters, in order: q, k, v, [bias], [bool_mask], [q and kv
/// segment ids], [kv_num_blocks, kv_indices], [kv_lengths], [dropout_state],
/// [block_table (paged)], [sinks [Hq] f32], out and [lse] (splits == 1)
/// or partial outputs [scratchRows, D] f32 and their base-2 log-sum-exp
/// [scratchRows] f32 (splits > 1), then with TMA the K and V tensor maps
/// (memref<16xi64>, 128 bytes each), then with run-time sizes batch, Sq
/// and Skv (index) [and the paged sizes], then with run-time splits the
/// split count (index). Run-time splits take out, [lse] and the partials
/// (both). Identity layouts; a buffer of run-time shape is passed as a
/// rank-0 memref (its base pointer, see gpuKernelParamType).
gpu::GPUFuncOp emitFlashKernel(OpBuilder &b, Location loc,
                               const GpuFlashGeometry &g, StringRef name);

/// A mixed batch's kernel (`prefill.packed`): parameters q, k, v,
/// kv_lengths, query_offsets, [block_table], out, [lse] (all as base
/// pointers), then batch, T, capacity [, page count, table width]. Grid
/// (mixedGridSlots, kvHeads, 1): each block scans query_offsets for its
/// work item. Sequences of at most decode.blockRows() rows (G * n) get one
/// block of the decode geometry, counted from the last slot down; the
/// others ceil(G * n / prefill.blockRows()) blocks of the prefill geometry
/// from slot 0 up, each sequence's last (most keys under causal) first.
/// Both geometries have the same thread count; their bodies sit in the two
/// branches of one scf.if on the block's kind.
gpu::GPUFuncOp emitMixedFlashKernel(OpBuilder &b, Location loc,
                                    const GpuFlashGeometry &prefill,
                                    const GpuFlashGeometry &decode,
                                    StringRef name);

/// Merges the split partials: parameters (partial outputs, partial lse,
/// out, [lse], [sinks [Hq] f32]), with run-time splits then batch, Sq and the
/// split count (index; the buffers as base pointers); grid (rows, kvHeads,
/// batch), 128 threads.
gpu::GPUFuncOp emitCombineKernel(OpBuilder &b, Location loc,
                                 const GpuFlashGeometry &g, StringRef name);

/// attn.cache_append: one thread per 16-byte chunk of a new K/V row copies
/// it (f32 input converted to the cache type) to its cache position.
struct GpuAppendGeometry {
  int64_t headDim = 0;
  bool hasNewLengths = false;
  bool paged = false, hnd = false; ///< paged cache, [P, Hkv, page, D]
  int64_t pageSize = 0, numPages = 0;
  /// Shapes of the K/V rows, caches and block table (`?` allowed).
  SmallVector<int64_t, 4> rowShape, cacheShape, tableShape;
  bool dynamic = false; ///< some size is `?`: size parameters follow
  /// Rotary embedding of the keys (rotaryDim 0: none): the cos/sin tables
  /// [max_pos, rotaryDim / 2] follow the block table; a run-time max_pos
  /// (`?`) is one more size parameter, after the others.
  rope::Form ropeForm = rope::Form::NeoX;
  int64_t rotaryDim = 0;
  SmallVector<int64_t, 2> ropeTableShape;
  bool dynamicMaxPos() const {
    return rotaryDim && ShapedType::isDynamic(ropeTableShape[0]);
  }
  int64_t numSizeParams() const {
    return dynamic ? (paged ? 4 : 3) + (dynamicMaxPos() ? 1 : 0) : 0;
  }
  int64_t chunks() const { return headDim / 8; }
  /// One thread per chunk, rounded up to a warp.
  int64_t threads() const {
    return std::max<int64_t>(32, (chunks() + 31) / 32 * 32);
  }
};

/// The append kernel; parameters `params`: new keys and values
/// [B, Hkv, Snew, D], the two caches, the cache lengths [B] (i32), [new
/// lengths [B] (i32)], [the block table (paged)], [rotary_cos and
/// rotary_sin (rotaryDim > 0)], then with run-time sizes (`dynamic`;
/// buffers of run-time shape as rank-0 memrefs) batch, Snew and the
/// contiguous capacity Smax, or batch, Snew, the page count and the
/// block-table width (index), [then max_pos]. Grid (Snew, Hkv, B). With a
/// rotary embedding, keys are rotated by their position lengths[b] + row
/// before they are written, and rows past the tables are not written.
gpu::GPUFuncOp emitAppendKernel(OpBuilder &b, Location loc,
                                const GpuAppendGeometry &a, TypeRange params,
                                StringRef name);

/// attn.cache_attention with a rotary embedding: the rotation of the
/// queries, one block per query row, one thread per element.
struct GpuRopeQueryGeometry {
  rope::Form form = rope::Form::NeoX;
  int64_t rotaryDim = 0, heads = 0, headDim = 0;
  /// Some parameter has a run-time shape: batch, Sq and max_pos follow as
  /// size parameters (the buffers as rank-0 memrefs).
  bool dynamic = false;
  SmallVector<int64_t, 4> queryShape;
  SmallVector<int64_t, 2> tableShape;
  int64_t threads() const {
    return std::max<int64_t>(32, (headDim + 31) / 32 * 32);
  }
};

/// Parameters `params`: the queries [B, Hq, Sq, D], the cache lengths [B]
/// (i32, after the step: query s sits at lengths[b] - Sq + s), rotary_cos,
/// rotary_sin [max_pos, rotaryDim / 2], the rotated queries (the queries'
/// type and shape), then with run-time sizes batch, Sq and max_pos (index).
/// Positions are clamped into the tables (the runtime checks them). Grid
/// (Sq, Hq, B).
gpu::GPUFuncOp emitRopeQueryKernel(OpBuilder &b, Location loc,
                                   const GpuRopeQueryGeometry &g,
                                   TypeRange params, StringRef name);

/// Memref types of the kernel parameters.
MemRefType gpuQueryType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuKvType(MLIRContext *ctx, const GpuFlashGeometry &g);
/// V (the K layout with Dv columns) and the output (the Q layout with Dv).
MemRefType gpuValueType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuOutputType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuBlockTableType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuLseType(MLIRContext *ctx, const GpuFlashGeometry &g);
/// kv_lengths (or cache lengths): [B] i32.
MemRefType gpuLengthsType(MLIRContext *ctx, const GpuFlashGeometry &g);
/// Dropout's [seed, offset] state: [2] i64.
MemRefType gpuDropoutStateType(MLIRContext *ctx);
/// The sink logits: [Hq] f32.
MemRefType gpuSinksType(MLIRContext *ctx, const GpuFlashGeometry &g);
/// block_mask: kv_num_blocks [B', H', Qblocks] and kv_indices [B', H',
/// Qblocks, maxBlocks] (i32).
MemRefType gpuBlockCountsType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuBlockIndicesType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuScratchOutType(MLIRContext *ctx, const GpuFlashGeometry &g);
MemRefType gpuScratchLseType(MLIRContext *ctx, const GpuFlashGeometry &g);
/// A CUtensorMap (128 bytes) in global memory.
MemRefType gpuTensorMapType(MLIRContext *ctx);
/// The kernel parameter for a buffer of type `t`: `t` when static, else
/// the rank-0 memref of its element type (the bare-pointer calling
/// convention passes only static memrefs; the kernel rebuilds the view of
/// the run-time shape from its size parameters).
MemRefType gpuKernelParamType(MemRefType t);

/// How the runtime encodes the tensor map of K or V (dense layouts): dims
/// innermost first ((D, S, Hkv, B) for bhsd, (D, Hkv, S, B) for bshd), byte
/// strides of dims 1-3, the box of one TMA copy (64 columns x tileKv keys
/// of one head) and the 128-byte swizzle. With run-time sizes the dims and
/// strides that depend on them are 0: the runtime takes them from the
/// source buffer at launch (the map is that dense buffer, dims reversed).
struct GpuTensorMapSpec {
  SmallVector<int64_t, 4> dims, strides, box;
  int64_t swizzle = 128;
};
GpuTensorMapSpec gpuKvTensorMap(const GpuFlashGeometry &g);

} // namespace mlir::attn

#endif
