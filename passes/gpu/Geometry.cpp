//===- Geometry.cpp - how one attention maps onto the GPU ----------------===//
//
// What the flash kernels support, the choice of warps, tiles, stages and
// KV splits for a shape, and the memref types of the kernel parameters.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashKernel.h"
#include "passes/gpu/KernelBuilder.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
/// Dynamic shared memory a block may use on sm_90 (227 KiB).
constexpr int64_t kMaxSharedBytes = 232448;
/// The largest head dim (of Q/K and of V) the flash kernels take.
constexpr int64_t kMaxHeadDim = 256;
} // namespace

LogicalResult mlir::attn::checkGpuFlashSupport(const GpuFlashGeometry &g,
                                               std::string &why) {
  // One warp's O row tile holds Dv / 8 fragments of 4 f32 (64 registers at
  // Dv = 256; one m tile per warp above 128): larger dims would need the
  // output columns split across warps.
  for (auto [name, d] : {std::pair{"head dim", g.headDim},
                         std::pair{"value head dim", g.vDim()}})
    if (d < 1 || d > kMaxHeadDim) {
      why = std::string(name) + " " + std::to_string(d) +
            " is not supported on the GPU (1 to " +
            std::to_string(kMaxHeadDim) +
            "; dims that are not multiples of 8 are zero-padded)";
      return failure();
    }
  if (g.heads % g.kvHeads != 0) {
    why = "query heads must be a multiple of KV heads";
    return failure();
  }
  if (g.mask.dilation < 1) {
    why = "dilation must be positive";
    return failure();
  }
  return success();
}

namespace {
/// Block-sparse masks: each KV block is whole key tiles, so the default
/// tile halves until it divides the KV block size (down to the smallest
/// tile the kernel takes: 16 keys per key warp, wgmma's 32 or, with two
/// warpgroups, 64); an explicit tile-kv must divide it.
LogicalResult fitTilesToBlocks(GpuFlashGeometry &g,
                               const GpuFlashOverrides &overrides,
                               std::string &why) {
  const int64_t bk = g.sparseKvBlock;
  const int64_t least = !g.wgmma ? 16 * g.keyWarps : g.rowWarps == 8 ? 64 : 32;
  if (overrides.tileKv <= 0)
    while (bk % g.tileKv != 0 && g.tileKv / 2 >= least)
      g.tileKv /= 2;
  if (bk % g.tileKv == 0)
    return success();
  why = "block_size kv_block " + std::to_string(bk) +
        " must be a multiple of the kernel's key tile (" +
        std::to_string(g.tileKv) + " keys here; the smallest is " +
        std::to_string(least) + "): each KV block runs as whole tiles";
  return failure();
}
} // namespace

LogicalResult
mlir::attn::chooseGpuFlashGeometry(GpuFlashGeometry &g,
                                   const GpuFlashOverrides &overrides,
                                   int64_t numSms, std::string &why) {
  // Decode-sized groups fill one or two mma row tiles; the remaining warps
  // of the block split each KV tile's keys instead of idling.
  int64_t rows = g.rows();
  g.rowWarps = rows <= 16 ? 1 : rows <= 32 ? 2 : 4;
  g.keyWarps = 4 / g.rowWarps;
  // key-warps tunes decode-sized groups; prefill blocks are row-parallel.
  if (overrides.keyWarps > 0) {
    if (overrides.keyWarps != 1 && overrides.keyWarps != 2 &&
        overrides.keyWarps != 4) {
      why = "key-warps must be 1, 2 or 4";
      return failure();
    }
    if (rows <= 32)
      g.keyWarps = overrides.keyWarps;
  }
  // Prefill: two m tiles per warp (128 rows per block) halve the K/V bytes
  // per flop, both from L2 and from shared memory (ldmatrix).
  // Above Dv = 128 two m tiles of O alone would take 2 * Dv / 2 registers
  // (256 at Dv = 256): one m tile (64-row blocks).
  g.warpRowTiles = overrides.warpRowTiles > 0      ? overrides.warpRowTiles
                   : rows > 64 && g.dvPad() <= 128 ? 2
                                                   : 1;
  // 64-key tiles: with lazy rescaling, two m tiles of d = 128 fit in 255
  // registers and halve the barriers and softmax bookkeeping per key of
  // 32-key tiles. Decode-sized groups with 4 key warps: 128-key tiles (32
  // keys per key warp) halve them again; with 2 key warps 64-key tiles were
  // faster. Measurements: docs/performance-notes.md, "GPU tile sizes".
  int64_t defaultTileKv = g.keyWarps == 4 ? 128 : 64;
  // Head dims beyond the multiples of 16 up to 128 (padded, or one m tile
  // per warp) keep ptxas from spilling with smaller tiles (ptxas -v, sm_90,
  // every multiple of 8 from 32 to 256): row-parallel blocks above 80 spill
  // 8 to 108 bytes with 64-key tiles and nothing with 32; 4 key warps above
  // 128 spill up to 56 bytes with 128-key tiles and nothing with 64.
  const bool classicDim =
      g.headDim % 16 == 0 && g.headDim <= 128 && g.vDim() == g.headDim;
  const int64_t maxDim = std::max(g.dPad(), g.dvPad());
  if (!classicDim && g.keyWarps == 1 && maxDim > 80)
    defaultTileKv = 32;
  if (!classicDim && g.keyWarps == 4 && maxDim > 128)
    defaultTileKv = 64;
  // Dropout's Philox rounds need registers beside S and O: two m tiles of
  // 64 keys spill (36 bytes at d = 128 on mma.sync, 204 on wgmma), 32-key
  // tiles do not (ptxas -v, lit gpu-flash-dropout-ptxas.mlir).
  if (g.dropsWeights() && g.keyWarps == 1 && g.warpRowTiles == 2)
    defaultTileKv = std::min<int64_t>(defaultTileKv, 32);
  g.tileKv = overrides.tileKv > 0 ? overrides.tileKv : defaultTileKv;
  g.stages = overrides.stages > 0 ? overrides.stages : 2;
  // Large head dims: halve the default tile until the stages fit shared
  // memory (d = 256 with 4 key warps: 64 keys, not 128).
  if (overrides.tileKv <= 0)
    while (g.sharedBytes() > kMaxSharedBytes && g.tileKv > 16 * g.keyWarps)
      g.tileKv /= 2;
  if (g.stages > 4) {
    why = "stages must be between 1 and 4";
    return failure();
  }
  if (g.warpRowTiles > 2) {
    why = "warp-row-tiles must be 1 or 2";
    return failure();
  }
  // Two m tiles per warp are only built with one key warp, i.e.
  // row-parallel blocks: merging two-m-tile warps through shared memory
  // once gave wrong rows and was never root-caused (see
  // docs/performance-notes.md, "GPU tile sizes").
  if (g.warpRowTiles == 2 && g.keyWarps != 1) {
    why = "warp-row-tiles=2 needs more than 32 rows per KV head group "
          "(decode-sized groups split keys across warps instead)";
    return failure();
  }
  // wgmma: row-parallel blocks of 128 rows (prefill-sized groups) and
  // 64-element column blocks. Either one warpgroup whose threads hold two
  // 64-row M tiles (the default; 32- or 64-key tiles keep S and O of both
  // in registers) or, with warp-row-tiles=1, two warpgroups of one M tile
  // each (8 warps; 64- or 128-key tiles).
  std::string noWgmma;
  bool twoGroups = g.warpRowTiles == 1;
  // d = 192 / 256 (one m tile per warp, so two warpgroups): 64-key tiles,
  // the two stages and Q fit shared memory (193 KiB at d = 256) and S stays
  // 32 registers beside O's 128.
  int64_t wgmmaTileKv = overrides.tileKv > 0 ? overrides.tileKv
                        : g.headDim > 128    ? 64
                        : twoGroups          ? 128
                                             : 64;
  if (rows <= 64 || g.keyWarps != 1 || g.rowWarps != 4)
    noWgmma = "a block of 128 rows (prefill-sized groups)";
  else if (g.headDim % GpuFlashGeometry::kSwizzleElems != 0 ||
           g.vDim() != g.headDim)
    noWgmma = "a head dim that is a multiple of 64, equal for q/k and v";
  else if (g.headDim > 128 && !twoGroups)
    noWgmma = "warp-row-tiles=1 above head dim 128 (O of two M tiles would "
              "not fit registers)";
  else if (twoGroups ? (wgmmaTileKv != 64 && wgmmaTileKv != 128)
                     : (wgmmaTileKv != 32 && wgmmaTileKv != 64))
    noWgmma = twoGroups ? "tile-kv 64 or 128 with warp-row-tiles=1"
                        : "tile-kv 32 or 64";
  if (overrides.mma == GpuMmaKind::Wgmma && !noWgmma.empty()) {
    why = "mma=wgmma needs " + noWgmma;
    return failure();
  }
  g.wgmma = overrides.mma != GpuMmaKind::Sync && noWgmma.empty();
  if (g.wgmma && twoGroups) {
    g.rowWarps = 8;
    g.tileKv = wgmmaTileKv;
  }
  // Caches keep cp.async: a tile of a paged cache spans pages reached
  // through the block table.
  g.tma = g.wgmma && overrides.tma && g.kvForm == GpuKvForm::Dense;
  if (g.blockSparse() && failed(fitTilesToBlocks(g, overrides, why)))
    return failure();
  if (g.tileKv % (16 * g.keyWarps) != 0 || g.tileKv > 128) {
    why = "tile-kv " + std::to_string(g.tileKv) + " must be a multiple of " +
          std::to_string(16 * g.keyWarps) +
          " (16 keys per key warp), at most 128";
    return failure();
  }
  if (g.sharedBytes() > kMaxSharedBytes) {
    why = "the tiles need " + std::to_string(g.sharedBytes()) +
          " bytes of shared memory per block; the limit is " +
          std::to_string(kMaxSharedBytes) +
          " (sm_90); use fewer stages or "
          "smaller tile-kv";
    return failure();
  }
  if (g.dynamicSizes()) {
    // The split count depends on the call's sizes: the host picks it per
    // launch (gpuKvSplits) and the scratch of the partials follows it.
    // kv-splits=1 keeps the kernel unsplit (no partials, no combine).
    if (overrides.kvSplits > 1) {
      why = "kv-splits " + std::to_string(overrides.kvSplits) +
            " needs static sizes (kernels of run-time sizes choose their "
            "split count per call; kv-splits=1 keeps them unsplit)";
      return failure();
    }
    g.splits = 1;
    // Kernels of a static Sq (decode: Sq = 1) split per call. Those of a
    // run-time Sq (prefill, chunked prefill) stay unsplit: both epilogues
    // in one kernel made ptxas spill the 255-register prefill tiles (sm_90
    // mma.sync 8 -> 56 bytes, sm_90a wgmma 0 -> 32), and long query
    // blocks seldom leave SMs idle. A static Skv whose cap allows one
    // split (a short cache) cannot split either.
    bool neverSplits =
        g.dynQLen ||
        (!g.dynKvLen && gpuKvSplitCap(g.numKvTiles(), g.kvLen, g.rows()) == 1);
    g.runTimeSplits = overrides.kvSplits == 0 && !neverSplits;
    return success();
  }
  if (overrides.kvSplits > 0) {
    g.splits =
        std::min(overrides.kvSplits, std::max<int64_t>(1, g.numKvTiles()));
    return success();
  }
  g.splits =
      gpuKvSplits(g.rowBlocks() * g.kvHeads * g.batch,
                  gpuKvSplitCap(g.numKvTiles(), g.kvLen, g.rows()), numSms);
  return success();
}

// Flash-decoding: when fewer than two blocks per SM exist, split the KV
// range (aiming at ~8 blocks per SM). Each split costs its rows' partial
// outputs (written, then read by the combine kernel), so the split count is
// capped where that traffic would pass ~3% of the K/V bytes, and each split
// keeps at least 4 tiles (measurements: docs/performance-notes.md, "GPU
// split-KV").
int64_t mlir::attn::gpuKvSplits(int64_t blocks, int64_t maxSplits,
                                int64_t numSms) {
  int64_t sms = std::max<int64_t>(numSms, 1);
  blocks = std::max<int64_t>(blocks, 1);
  int64_t splits = 1;
  if (blocks < 2 * sms)
    splits = (8 * sms + blocks - 1) / blocks;
  return std::max<int64_t>(1, std::min(splits, maxSplits));
}

int64_t mlir::attn::gpuKvSplitCap(int64_t kvTiles, int64_t kvLen,
                                  int64_t rows) {
  int64_t trafficCap = kvLen / (64 * std::max<int64_t>(rows, 1));
  return std::max<int64_t>(1, std::min(kvTiles / 4, trafficCap));
}

Type mlir::attn::gpu_kernels::elemType(MLIRContext *ctx,
                                       const GpuFlashGeometry &g) {
  return g.bf16 ? Type(BFloat16Type::get(ctx)) : Type(Float16Type::get(ctx));
}

using gpu_kernels::elemType;

namespace {
/// The sizes as buffer types spell them: `?` where they are run-time.
int64_t dimB(const GpuFlashGeometry &g) {
  return g.dynBatch ? ShapedType::kDynamic : g.batch;
}
int64_t dimSq(const GpuFlashGeometry &g) {
  return g.dynQLen ? ShapedType::kDynamic : g.qLen;
}
int64_t dimSkv(const GpuFlashGeometry &g) {
  return g.dynKvLen ? ShapedType::kDynamic : g.kvLen;
}
int64_t dimPages(const GpuFlashGeometry &g) {
  return g.dynPages ? ShapedType::kDynamic : g.numPages;
}
} // namespace

MemRefType mlir::attn::gpuQueryType(MLIRContext *ctx,
                                    const GpuFlashGeometry &g) {
  const int64_t B = dimB(g), Sq = dimSq(g);
  SmallVector<int64_t> shape =
      g.bshd ? SmallVector<int64_t>{B, Sq, g.heads, g.headDim}
             : SmallVector<int64_t>{B, g.heads, Sq, g.headDim};
  return MemRefType::get(shape, elemType(ctx, g));
}

MemRefType mlir::attn::gpuKvType(MLIRContext *ctx, const GpuFlashGeometry &g) {
  const int64_t B = dimB(g), Skv = dimSkv(g);
  SmallVector<int64_t> shape;
  switch (g.kvForm) {
  case GpuKvForm::Dense:
    shape = g.bshd ? SmallVector<int64_t>{B, Skv, g.kvHeads, g.headDim}
                   : SmallVector<int64_t>{B, g.kvHeads, Skv, g.headDim};
    break;
  case GpuKvForm::Contiguous:
    shape = {B, g.kvHeads, Skv, g.headDim};
    break;
  case GpuKvForm::PagedNHD:
    shape = {dimPages(g), g.pageSize, g.kvHeads, g.headDim};
    break;
  case GpuKvForm::PagedHND:
    shape = {dimPages(g), g.kvHeads, g.pageSize, g.headDim};
    break;
  }
  return MemRefType::get(shape, elemType(ctx, g));
}

namespace {
/// `t` with its last (head) dim replaced by `d`.
MemRefType withHeadDim(MemRefType t, int64_t d) {
  SmallVector<int64_t> shape(t.getShape());
  shape.back() = d;
  return MemRefType::get(shape, t.getElementType());
}
} // namespace

MemRefType mlir::attn::gpuValueType(MLIRContext *ctx,
                                    const GpuFlashGeometry &g) {
  return withHeadDim(gpuKvType(ctx, g), g.vDim());
}

MemRefType mlir::attn::gpuOutputType(MLIRContext *ctx,
                                     const GpuFlashGeometry &g) {
  return withHeadDim(gpuQueryType(ctx, g), g.vDim());
}

MemRefType mlir::attn::gpuLseType(MLIRContext *ctx, const GpuFlashGeometry &g) {
  return MemRefType::get({dimB(g), g.heads, dimSq(g)}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuLengthsType(MLIRContext *ctx,
                                      const GpuFlashGeometry &g) {
  return MemRefType::get({dimB(g)}, IntegerType::get(ctx, 32));
}

MemRefType mlir::attn::gpuDropoutStateType(MLIRContext *ctx) {
  return MemRefType::get({2}, IntegerType::get(ctx, 64));
}

MemRefType mlir::attn::gpuBlockCountsType(MLIRContext *ctx,
                                          const GpuFlashGeometry &g) {
  return MemRefType::get({g.sparseBatch, g.sparseHeads, g.sparseQBlocks},
                         IntegerType::get(ctx, 32));
}

MemRefType mlir::attn::gpuBlockIndicesType(MLIRContext *ctx,
                                           const GpuFlashGeometry &g) {
  return MemRefType::get(
      {g.sparseBatch, g.sparseHeads, g.sparseQBlocks, g.sparseMaxBlocks},
      IntegerType::get(ctx, 32));
}

MemRefType mlir::attn::gpuBlockTableType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  // The block-table width is the run-time capacity of a paged cache.
  return MemRefType::get(
      {dimB(g), g.dynKvLen ? ShapedType::kDynamic : g.pagesPerSeq},
      IntegerType::get(ctx, 32));
}

MemRefType mlir::attn::gpuSinksType(MLIRContext *ctx,
                                    const GpuFlashGeometry &g) {
  return MemRefType::get({g.heads}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuScratchOutType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  return MemRefType::get({g.scratchRows(), g.vDim()}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuScratchLseType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  return MemRefType::get({g.scratchRows()}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuTensorMapType(MLIRContext *ctx) {
  return MemRefType::get({16}, IntegerType::get(ctx, 64));
}

MemRefType mlir::attn::gpuKernelParamType(MemRefType t) {
  if (t.hasStaticShape())
    return t;
  return MemRefType::get({}, t.getElementType());
}

GpuTensorMapSpec mlir::attn::gpuKvTensorMap(const GpuFlashGeometry &g) {
  // 0: a run-time size, read from the source buffer at launch (and every
  // stride above it).
  const int64_t D = g.headDim, S = g.dynKvLen ? 0 : g.kvLen, H = g.kvHeads,
                B = g.dynBatch ? 0 : g.batch;
  // Dims in memory order (strides grow): bhsd (D, S, Hkv, B), bshd
  // (D, Hkv, S, B). A box is 64 columns of tileKv keys of one head either
  // way: tileKv rows of 128 bytes in shared memory.
  GpuTensorMapSpec m;
  const int64_t cols = GpuFlashGeometry::kSwizzleElems;
  if (g.bshd) {
    m.dims = {D, H, S, B};
    m.box = {cols, 1, g.tileKv, 1};
  } else {
    m.dims = {D, S, H, B};
    m.box = {cols, g.tileKv, 1, 1};
  }
  int64_t stride = 2;
  for (int64_t i = 0; i + 1 < 4; ++i) {
    stride *= m.dims[i];
    m.strides.push_back(stride);
  }
  return m;
}
