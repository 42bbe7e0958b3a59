//===- GpuFlashKernel.cpp - FlashAttention-2 kernels as gpu.func ----------===//
//
// Emits the flash kernel at the level of warps and mma fragments: the
// fragment layouts of mma.sync.m16n8k16 decide which thread holds which
// score, so the kernel is written directly in terms of them (ldmatrix for
// K and Vᵀ, score accumulators reused as the A operand of P·V) rather than
// through vector.contract, which cannot express the register-resident P.
//
// Fragment facts used below (lane = thread % 32, PTX ISA "mma.m16n8k16"):
//   A (16x16, row): a0a1 (row lane/4, k 2(lane%4)+{0,1}), a2a3 (row +8),
//                   a4a5 (k +8), a6a7 (row +8, k +8)
//   B (16x8, col):  b0b1 (k 2(lane%4)+{0,1}, n lane/4), b2b3 (k +8)
//   C (16x8):       c0c1 (row lane/4, n 2(lane%4)+{0,1}), c2c3 (row +8)
// ldmatrix gives lane l the pair (row l/4, cols 2(l%4)+{0,1}) of each 8x8
// matrix (rows addressed by lanes 8i..8i+7 for matrix i), or with .trans the
// pair (rows 2(l%4)+{0,1}, col l/4): K rows read plainly and V rows read
// transposed are both B fragments.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashKernel.h"
#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

namespace {
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLazyRescaleLog2 = 8.0f;
/// Dynamic shared memory a block may use on sm_90 (227 KiB).
constexpr int64_t kMaxSharedBytes = 232448;
const float kNegInf = -std::numeric_limits<float>::infinity();
} // namespace

LogicalResult mlir::attn::checkGpuFlashSupport(const GpuFlashGeometry &g,
                                               std::string &why) {
  if (g.headDim % 16 != 0 || g.headDim < 16 || g.headDim > 128) {
    why = "head dim " + std::to_string(g.headDim) +
          " is not supported on the GPU (multiples of 16 up to 128)";
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
  g.warpRowTiles = overrides.warpRowTiles > 0 ? overrides.warpRowTiles
                   : rows > 64                ? 2
                                              : 1;
  // 64-key tiles: with lazy rescaling, two m tiles of d = 128 fit in 255
  // registers (a few bytes of spill in the causal variant) and beat 32-key
  // tiles by 17% (causal) / 5% (full) on the H100 (half the barriers and
  // softmax bookkeeping per key).
  // Decode-sized groups: 128-key tiles (32 or 64 keys per key warp) halve
  // the per-tile barriers and bookkeeping; +2-3% on the H100 decode shapes.
  // (Only with 4 key warps: MQA's 32 rows per head, 2 key warps, measured
  // 1.80 TB/s with 64-key tiles and 1.63 with 128.)
  int64_t defaultTileKv = g.keyWarps == 4 ? 128 : 64;
  g.tileKv = overrides.tileKv > 0 ? overrides.tileKv : defaultTileKv;
  g.stages = overrides.stages > 0 ? overrides.stages : 2;
  if (g.stages > 4) {
    why = "stages must be between 1 and 4";
    return failure();
  }
  if (g.warpRowTiles > 2) {
    why = "warp-row-tiles must be 1 or 2";
    return failure();
  }
  // Two m tiles per warp are only built (and measured) with one key warp,
  // i.e. row-parallel blocks: an earlier version that merged two-m-tile
  // warps through shared memory gave wrong rows on the H100 (GQA 7:1 with
  // a sliding window) and that path was never root-caused.
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
  int64_t wgmmaTileKv = overrides.tileKv > 0 ? overrides.tileKv
                        : twoGroups          ? 128
                                             : 64;
  if (rows <= 64 || g.keyWarps != 1 || g.rowWarps != 4)
    noWgmma = "a block of 128 rows (prefill-sized groups)";
  else if (g.headDim % GpuFlashGeometry::kSwizzleElems != 0)
    noWgmma = "a head dim that is a multiple of 64";
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
  if (overrides.kvSplits > 0) {
    g.splits =
        std::min(overrides.kvSplits, std::max<int64_t>(1, g.numKvTiles()));
    return success();
  }
  // Flash-decoding: when fewer than two blocks per SM exist, split the KV
  // range (aiming at ~8 blocks per SM). Each split costs its rows' partial
  // outputs (written, then read by the combine kernel), so the split count
  // is capped where that traffic would pass ~3% of the K/V bytes, and each
  // split keeps at least 4 tiles. Measured on the H100 (C++ bench timing):
  // GQA b64 kv4096 (512 blocks) is best unsplit (2.84 vs 2.79 TB/s with 2),
  // MQA b64 (64 blocks, 32 rows per KV head) best with 2 (2.19 vs 2.07
  // unsplit, 2.09 with 4), GQA b8 kv32768 with 16 (2.82 vs 2.71 with 5).
  int64_t blocks = g.rowBlocks() * g.kvHeads * g.batch;
  int64_t sms = std::max<int64_t>(numSms, 1);
  int64_t splits = 1;
  if (blocks < 2 * sms)
    splits = (8 * sms + blocks - 1) / blocks;
  int64_t trafficCap = g.kvLen / (64 * std::max<int64_t>(g.rows(), 1));
  splits = std::min({splits, std::max<int64_t>(1, g.numKvTiles() / 4),
                     std::max<int64_t>(1, trafficCap)});
  g.splits = std::max<int64_t>(splits, 1);
  return success();
}

static Type elemType(MLIRContext *ctx, const GpuFlashGeometry &g) {
  return g.bf16 ? Type(BFloat16Type::get(ctx)) : Type(Float16Type::get(ctx));
}

MemRefType mlir::attn::gpuQueryType(MLIRContext *ctx,
                                    const GpuFlashGeometry &g) {
  SmallVector<int64_t> shape =
      g.bshd ? SmallVector<int64_t>{g.batch, g.qLen, g.heads, g.headDim}
             : SmallVector<int64_t>{g.batch, g.heads, g.qLen, g.headDim};
  return MemRefType::get(shape, elemType(ctx, g));
}

MemRefType mlir::attn::gpuKvType(MLIRContext *ctx, const GpuFlashGeometry &g) {
  SmallVector<int64_t> shape;
  switch (g.kvForm) {
  case GpuKvForm::Dense:
    shape = g.bshd
                ? SmallVector<int64_t>{g.batch, g.kvLen, g.kvHeads, g.headDim}
                : SmallVector<int64_t>{g.batch, g.kvHeads, g.kvLen, g.headDim};
    break;
  case GpuKvForm::Contiguous:
    shape = {g.batch, g.kvHeads, g.kvLen, g.headDim};
    break;
  case GpuKvForm::PagedNHD:
    shape = {g.numPages, g.pageSize, g.kvHeads, g.headDim};
    break;
  case GpuKvForm::PagedHND:
    shape = {g.numPages, g.kvHeads, g.pageSize, g.headDim};
    break;
  }
  return MemRefType::get(shape, elemType(ctx, g));
}

MemRefType mlir::attn::gpuLseType(MLIRContext *ctx, const GpuFlashGeometry &g) {
  return MemRefType::get({g.batch, g.heads, g.qLen}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuBlockTableType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  return MemRefType::get({g.batch, g.pagesPerSeq}, IntegerType::get(ctx, 32));
}

MemRefType mlir::attn::gpuScratchOutType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  return MemRefType::get({g.scratchRows(), g.headDim}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuScratchLseType(MLIRContext *ctx,
                                         const GpuFlashGeometry &g) {
  return MemRefType::get({g.scratchRows()}, Float32Type::get(ctx));
}

MemRefType mlir::attn::gpuTensorMapType(MLIRContext *ctx) {
  return MemRefType::get({16}, IntegerType::get(ctx, 64));
}

GpuTensorMapSpec mlir::attn::gpuKvTensorMap(const GpuFlashGeometry &g) {
  const int64_t D = g.headDim, S = g.kvLen, H = g.kvHeads, B = g.batch;
  // Dims in memory order (strides grow): bhsd (D, S, Hkv, B), bshd
  // (D, Hkv, S, B). A box is 64 columns of tileKv keys of one head either
  // way: tileKv rows of 128 bytes in shared memory.
  GpuTensorMapSpec m;
  const int64_t cols = GpuFlashGeometry::kSwizzleElems;
  if (g.bshd) {
    m.dims = {D, H, S, B};
    m.strides = {D * 2, H * D * 2, S * H * D * 2};
    m.box = {cols, 1, g.tileKv, 1};
  } else {
    m.dims = {D, S, H, B};
    m.strides = {D * 2, S * D * 2, H * S * D * 2};
    m.box = {cols, g.tileKv, 1, 1};
  }
  return m;
}

namespace {

/// Per-thread mma accumulators: [m tile][n tile][4 f32].
using Fragments = SmallVector<SmallVector<SmallVector<Value>>>;

/// The fragments as one value list (scf.if / scf.yield operands).
SmallVector<Value> flatten(const Fragments &f) {
  SmallVector<Value> out;
  for (auto &rowTile : f)
    for (auto &tile : rowTile)
      out.append(tile.begin(), tile.end());
  return out;
}

/// Overwrites `f` with `values` laid out as flatten() produces them.
void unflatten(Fragments &f, ValueRange values) {
  auto it = values.begin();
  for (auto &rowTile : f)
    for (auto &tile : rowTile)
      for (Value &x : tile)
        x = *it++;
}

/// Emits the body of one flash kernel.
class FlashKernelEmitter {
public:
  FlashKernelEmitter(ImplicitLocOpBuilder &b, const GpuFlashGeometry &g)
      : b(b), im{b}, g(g) {}

  void emit(gpu::GPUFuncOp func);
  void emitCombine(gpu::GPUFuncOp func);

private:
  // f32 helpers.
  Value cf(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value fsub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  // llvm.maxnum, not arith.maxnumf: the latter becomes a libdevice call.
  Value fmax(Value x, Value y) { return LLVM::MaxNumOp::create(b, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value ex2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, b.getF32Type(), b.getStringAttr("llvm.nvvm.ex2.approx.ftz.f"),
               ValueRange{x})
        .getResult(0);
  }
  Value lg2(Value x) {
    return LLVM::CallIntrinsicOp::create(
               b, b.getF32Type(), b.getStringAttr("llvm.nvvm.lg2.approx.ftz.f"),
               ValueRange{x})
        .getResult(0);
  }
  /// The exponent base a row subtracts: its max, or 0 while the row has
  /// seen nothing (so that exp2(-inf - base) stays 0 instead of NaN).
  Value safeMax(Value m) {
    Value isInf =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, m, cf(kNegInf));
    return select(isInf, cf(0), m);
  }
  /// The natural-log log-sum-exp of a row from its base-2 running max and
  /// sum (-inf for a row that saw nothing).
  Value naturalLse(Value seen, Value base, Value l) {
    Value log2Lse = fadd(base, lg2(select(seen, l, cf(1))));
    return select(seen, fmul(log2Lse, cf(0.69314718055994531f)), cf(kNegInf));
  }
  Value shuffleXor(Value v, int32_t offset) {
    return gpu::ShuffleOp::create(b, v, offset, 32, gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// Reduces over the 4 lanes holding one row of a C fragment.
  Value quadReduce(Value v, bool isMax) {
    for (int32_t off : {1, 2}) {
      Value o = shuffleXor(v, off);
      v = isMax ? fmax(v, o) : fadd(v, o);
    }
    return v;
  }
  Value i32ToIndex(Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }

  /// Indices of element (batch, head, seq, d) of a q/k/v/out buffer.
  SmallVector<Value> at(Value bIdx, Value h, Value s, Value d) {
    if (g.bshd)
      return {bIdx, s, h, d};
    return {bIdx, h, s, d};
  }
  /// A vector<2xT> as the register type mma.sync takes for T: i32 for
  /// bf16, vector<2xf16> itself for f16.
  Value fragReg(Value pair) {
    if (!g.bf16)
      return pair;
    return LLVM::BitcastOp::create(b, b.getI32Type(), pair);
  }
  /// Two consecutive 16-bit elements as one mma operand register.
  Value loadPair(Value mem, ArrayRef<Value> idx) {
    auto ty = VectorType::get({2}, elemType(b.getContext(), g));
    return fragReg(vector::LoadOp::create(b, ty, mem, idx));
  }
  Value packPair(Value lo, Value hi) {
    Type et = elemType(b.getContext(), g);
    Value a = arith::TruncFOp::create(b, et, lo);
    Value c = arith::TruncFOp::create(b, et, hi);
    return fragReg(vector::FromElementsOp::create(b, VectorType::get({2}, et),
                                                  ValueRange{a, c}));
  }
  /// 4 fragment registers of an ldmatrix.x4 at `idx` of `mem`.
  SmallVector<Value, 4> ldmatrix4(Value mem, ArrayRef<Value> idx,
                                  bool transpose) {
    Type et = elemType(b.getContext(), g);
    auto ty = VectorType::get({4, 2}, et);
    Value frag = nvgpu::LdMatrixOp::create(b, ty, mem, idx, transpose, 4);
    SmallVector<Value, 4> regs;
    for (int64_t i = 0; i < 4; ++i) {
      regs.push_back(
          fragReg(vector::ExtractOp::create(b, frag, ArrayRef<int64_t>{i})));
    }
    return regs;
  }
  /// c += a·b on one m16n8k16 tile; `c` holds 4 f32.
  void mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
           SmallVectorImpl<Value> &c) {
    auto f32 = b.getF32Type();
    auto resTy =
        LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
    NVVM::MMATypes ptx = g.bf16 ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    Value r = NVVM::MmaOp::create(
        b, resTy, a, bFrag, c, ArrayRef<int64_t>{16, 8, 16}, std::nullopt,
        std::nullopt, std::array<NVVM::MMATypes, 2>{ptx, ptx},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    for (int64_t i = 0; i < 4; ++i)
      c[i] = LLVM::ExtractValueOp::create(b, r, ArrayRef<int64_t>{i});
  }

  /// Whether query position `qpos` may see key `key` (MaskSpec::allows).
  Value allows(Value qpos, Value key);
  /// The data-dependent masks (bool mask, segment ids, mask_mod) of query
  /// `sIdx` of head `h` and key `key` (in bounds).
  Value customAllows(Value h, Value sIdx, Value key);
  /// Clones `region`'s block here with its arguments bound to `args` (and
  /// the constants it captures cloned first); returns the yielded value.
  Value inlineModifier(Region &region, ValueRange args);
  /// Issues the cp.async copies of KV tile `tile` into `stage` as one
  /// group; returns its token.
  Value loadTile(Value tile, Value stage);
  /// Indices of element `col` of key row `key` in the K/V memrefs.
  SmallVector<Value> kvIndices(Value key, Value col);
  /// Where the 8-element chunk starting at column `col` of shared row `row`
  /// sits in the 128-byte-swizzled layout: its 64-column block and its
  /// column inside the block (16-byte chunk index XOR row % 8, the pattern
  /// wgmma's 128B swizzle mode reads).
  std::pair<Value, Value> swizzledColumn(Value row, Value col) {
    const int64_t sw = GpuFlashGeometry::kSwizzleElems;
    Value chunk = im.div(im.rem(col, sw), 8);
    Value swz = arith::XOrIOp::create(b, chunk, im.rem(row, 8));
    return {im.div(col, sw), im.mul(swz, 8)};
  }

  // wgmma (sm_90a). Accumulators are lists of f32 in the fragment order of
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
  /// Orders the warpgroup's register writes before the next wgmma.
  void wgmmaFence() { NVVM::WgmmaFenceAlignedOp::create(b); }
  /// Closes the wgmma issued since the last commit into one group.
  void wgmmaCommit();
  /// Waits until at most `pending` groups are in flight; `acc` (the
  /// accumulators of the groups that are done) comes back through the
  /// wait so no read of them can move above it.
  void wgmmaWait(int64_t pending, SmallVectorImpl<Value> &acc);
  /// One volatile inline PTX statement; `result` null for none.
  Value inlinePtx(Type result, const std::string &text,
                  const std::string &constraints, ValueRange operands);
  Value i32(Value index) {
    return arith::IndexCastUIOp::create(b, b.getI32Type(), index);
  }
  /// TMA: thread 0 arms `stage`'s mbarrier with the tile's bytes and issues
  /// the bulk tensor copies of K and V tile `tile` into it.
  void loadTileTma(Value tile, Value stage);
  /// TMA: spins until `stage`'s mbarrier completes phase `parity`.
  void waitTileTma(Value stage, Value parity);
  /// Emits the PTX statement `text` with `values` rewritten through it (and
  /// through empty volatile asm in chunks), so no use of them moves above.
  void fenceRegisters(SmallVectorImpl<Value> &values, const std::string &text);

  ImplicitLocOpBuilder &b;
  IndexMath im;
  const GpuFlashGeometry &g;

  // Kernel state shared by the phases.
  Value q, k, v, bias, kvLengths, blockTable, out, lseOut, partOut, partLse;
  Value boolMask, qSegments, kvSegments;
  Value len; ///< this block's sequence length (keys that exist)
  Value tid, lane, warp, rw, kw;
  Value batch, kvHead, rowBlock, split;
  Value kSmem, vSmem, oSmem, mSmem, lSmem;
  Value smemBase; ///< wgmma: shared-window address of the aligned K tiles
  Value tensorMapK, tensorMapV; ///< TMA: generic addresses of the maps
  Value barrierBase; ///< TMA: shared address of stage 0's mbarrier (i32)
};

Value FlashKernelEmitter::inlineModifier(Region &region, ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  map.map(block.getArguments(), args);
  region.walk([&](Operation *inner) {
    for (Value operand : inner->getOperands())
      if (!region.isAncestor(operand.getParentRegion()) &&
          !map.contains(operand))
        map.map(operand, b.clone(*operand.getDefiningOp())->getResult(0));
  });
  for (Operation &inner : block.without_terminator())
    b.clone(inner, map);
  return map.lookup(block.getTerminator()->getOperand(0));
}

Value FlashKernelEmitter::customAllows(Value h, Value sIdx, Value key) {
  Value ok = arith::ConstantOp::create(b, b.getBoolAttr(true));
  auto both = [&](Value c) { ok = arith::AndIOp::create(b, ok, c); };
  if (boolMask) {
    SmallVector<Value> idx = {batch, h, sIdx, key};
    for (auto [i, extent] : llvm::enumerate(g.boolMaskShape))
      if (extent == 1)
        idx[i] = im.c(0);
    both(memref::LoadOp::create(b, boolMask, idx));
  }
  if (qSegments) {
    Value a = memref::LoadOp::create(b, qSegments, ValueRange{batch, sIdx});
    Value c = memref::LoadOp::create(b, kvSegments, ValueRange{batch, key});
    both(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a, c));
  }
  if (g.maskMod)
    both(inlineModifier(*g.maskMod, {batch, h, sIdx, key}));
  return ok;
}

Value FlashKernelEmitter::allows(Value qpos, Value key) {
  const MaskSpec &m = g.mask;
  Value ok = arith::ConstantOp::create(b, b.getBoolAttr(true));
  auto both = [&](Value c) { ok = arith::AndIOp::create(b, ok, c); };
  Value distance = im.sub(qpos, key);
  Value structural = arith::ConstantOp::create(b, b.getBoolAttr(true));
  auto bothS = [&](Value c) {
    structural = arith::AndIOp::create(b, structural, c);
  };
  if (m.windowLeft >= 0)
    bothS(im.le(distance, im.c(m.windowLeft)));
  if (m.windowRight >= 0)
    bothS(im.le(im.sub(key, qpos), im.c(m.windowRight)));
  if (m.dilation > 1) {
    Value r = arith::RemSIOp::create(b, distance, im.c(m.dilation));
    bothS(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, r, im.c(0)));
  }
  if (m.globalTokens > 0) {
    Value global = arith::OrIOp::create(b, im.lt(key, im.c(m.globalTokens)),
                                        im.lt(qpos, im.c(m.globalTokens)));
    structural = arith::OrIOp::create(b, structural, global);
  }
  both(structural);
  if (m.causal)
    both(im.le(key, qpos));
  return ok;
}

SmallVector<Value> FlashKernelEmitter::kvIndices(Value key, Value col) {
  switch (g.kvForm) {
  case GpuKvForm::Dense:
    return at(batch, kvHead, key, col);
  case GpuKvForm::Contiguous:
    return {batch, kvHead, key, col};
  case GpuKvForm::PagedNHD:
  case GpuKvForm::PagedHND:
    break;
  }
  // Keys past the sequence would read block-table entries that name no
  // page: stay on the sequence's last key (or its first page when empty),
  // and keep the page id inside the pool whatever the table says.
  Value last = im.max(im.sub(len, im.c(1)), im.c(0));
  Value k0 = im.min(key, last);
  Value entry = memref::LoadOp::create(
      b, blockTable, ValueRange{batch, im.div(k0, g.pageSize)});
  Value page = im.max(im.min(i32ToIndex(entry), im.c(g.numPages - 1)), im.c(0));
  Value slot = im.rem(k0, g.pageSize);
  if (g.kvForm == GpuKvForm::PagedNHD)
    return {page, slot, kvHead, col};
  return {page, kvHead, slot, col};
}

Value FlashKernelEmitter::loadTile(Value tile, Value stage) {
  int64_t chunksPerRow = g.headDim / 8; // 16-byte copies
  int64_t chunks = g.tileKv * chunksPerRow;
  int64_t perThread = (chunks + g.threads() - 1) / g.threads();
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  SmallVector<Value> tokens;
  Value keyBase = im.mul(tile, g.tileKv);
  for (int64_t c = 0; c < perThread; ++c) {
    // Threads past the last chunk copy it again (same bytes, same place)
    // rather than branching around the copy.
    Value e = im.min(im.add(tid, c * g.threads()), im.c(chunks - 1));
    Value row = im.div(e, chunksPerRow);
    Value col = im.mul(im.rem(e, chunksPerRow), 8);
    // Rows past the end re-read the last key: always in bounds, and
    // masked out of the scores.
    Value key = im.min(im.add(keyBase, row), im.c(g.kvLen - 1));
    SmallVector<Value> src = kvIndices(key, col);
    SmallVector<Value> dst = {stage, row, col};
    if (g.wgmma) {
      auto [block, swizzled] = swizzledColumn(row, col);
      dst = {stage, block, row, swizzled};
    }
    for (auto [mem, smem] : {std::pair{k, kSmem}, std::pair{v, vSmem}})
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, smem, dst, mem, src, b.getIndexAttr(8),
          /*srcElements=*/Value(), b.getUnitAttr()));
  }
  return nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
}

Value FlashKernelEmitter::inlinePtx(Type result, const std::string &text,
                                    const std::string &constraints,
                                    ValueRange operands) {
  auto op = LLVM::InlineAsmOp::create(
      b, result, operands, text, constraints, /*has_side_effects=*/true,
      /*is_align_stack=*/false, LLVM::tailcallkind::TailCallKind::None,
      LLVM::AsmDialectAttr::get(b.getContext(), LLVM::AsmDialect::AD_ATT),
      ArrayAttr());
  return result ? op.getResult(0) : Value();
}

void FlashKernelEmitter::loadTileTma(Value tile, Value stage) {
  const int64_t cb = g.colBlocks();
  const int64_t blockBytes = g.tileKv * GpuFlashGeometry::kSwizzleElems * 2;
  const int64_t tileBytes = g.stages * cb * blockBytes;
  Value isLeader =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0));
  auto leader = scf::IfOp::create(b, isLeader, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(leader.thenBlock());
  Value bar = arith::AddIOp::create(b, barrierBase, i32(im.mul(stage, 8)));
  Value bytes =
      arith::ConstantIntOp::create(b, b.getI32Type(), 2 * cb * blockBytes);
  inlinePtx(Type(), "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;",
            "r,r", ValueRange{bar, bytes});
  Value key0 = i32(im.mul(tile, g.tileKv));
  Value head = i32(kvHead), seq = i32(batch);
  // Coordinates in the map's dim order (gpuKvTensorMap).
  Value c1 = g.bshd ? head : key0, c2 = g.bshd ? key0 : head;
  for (auto [map, base] :
       {std::pair{tensorMapK, int64_t(0)}, std::pair{tensorMapV, tileBytes}})
    for (int64_t c = 0; c < cb; ++c) {
      Value dst = i32(im.add(smemBase, im.add(im.mul(stage, cb * blockBytes),
                                              im.c(base + c * blockBytes))));
      Value col = arith::ConstantIntOp::create(
          b, b.getI32Type(), c * GpuFlashGeometry::kSwizzleElems);
      inlinePtx(Type(),
                "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier:"
                ":complete_tx::bytes [$0], [$1, {$2, $3, $4, $5}], [$6];",
                "r,l,r,r,r,r,r", ValueRange{dst, map, col, c1, c2, seq, bar});
    }
}

void FlashKernelEmitter::waitTileTma(Value stage, Value parity) {
  Value bar = arith::AddIOp::create(b, barrierBase, i32(im.mul(stage, 8)));
  auto loop = scf::WhileOp::create(b, TypeRange{}, ValueRange{});
  {
    OpBuilder::InsertionGuard guard(b);
    Block *before = b.createBlock(&loop.getBefore());
    b.setInsertionPointToStart(before);
    Value done = inlinePtx(
        b.getI32Type(),
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [$1], "
        "$2;\nselp.u32 $0, 1, 0, p;\n}",
        "=r,r,r", ValueRange{bar, parity});
    Value pending = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, done,
        arith::ConstantIntOp::create(b, b.getI32Type(), 0));
    scf::ConditionOp::create(b, pending, ValueRange{});
    Block *after = b.createBlock(&loop.getAfter());
    b.setInsertionPointToStart(after);
    scf::YieldOp::create(b, ValueRange{});
  }
}

Value FlashKernelEmitter::wgmmaDescriptor(Value addr, int64_t leadingBytes,
                                          int64_t strideBytes) {
  auto i64 = b.getI64Type();
  auto c64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, i64, v).getResult();
  };
  Value a = arith::IndexCastUIOp::create(b, i64, addr);
  Value start = arith::AndIOp::create(b, arith::ShRUIOp::create(b, a, c64(4)),
                                      c64(0x3FFF));
  // Bits 16-29: leading byte offset >> 4; 32-45: stride byte offset >> 4;
  // 62-63: layout type 1 = 128-byte swizzle.
  int64_t fields = ((leadingBytes >> 4) << 16) | ((strideBytes >> 4) << 32) |
                   (int64_t(1) << 62);
  return arith::OrIOp::create(b, start, c64(fields));
}

void FlashKernelEmitter::wgmma(SmallVectorImpl<Value> &acc, Value aDesc,
                               ArrayRef<Value> aRegs, Value bDesc,
                               bool transposeB, bool accumulate) {
  const int64_t n = acc.size();
  std::string et = g.bf16 ? "bf16" : "f16";
  std::string text = "{\n.reg .pred p;\nsetp.ne.b32 p, " +
                     std::to_string(accumulate ? 1 : 0) +
                     ", 0;\nwgmma.mma_async.sync.aligned.m64n" +
                     std::to_string(2 * n) + "k16.f32." + et + "." + et + " {";
  std::string constraints;
  for (int64_t i = 0; i < n; ++i) {
    text += (i ? ", $" : "$") + std::to_string(i);
    constraints += "=f,";
  }
  for (int64_t i = 0; i < n; ++i)
    constraints += std::to_string(i) + ",";
  SmallVector<Value> operands(acc.begin(), acc.end());
  int64_t next = 2 * n;
  if (aRegs.empty()) {
    text += "}, $" + std::to_string(next++);
    constraints += "l,";
    operands.push_back(aDesc);
  } else {
    text += "}, {";
    for (auto [i, r] : llvm::enumerate(aRegs)) {
      text += (i ? ", $" : "$") + std::to_string(next++);
      constraints += "r,";
      operands.push_back(LLVM::BitcastOp::create(b, b.getI32Type(), r));
    }
    text += "}";
  }
  text += ", $" + std::to_string(next++) + ", p, 1, 1";
  constraints += "l";
  operands.push_back(bDesc);
  if (aRegs.empty())
    text += ", 0";
  text += std::string(", ") + (transposeB ? "1" : "0") + ";\n}\n";
  SmallVector<Type> f32s(n, b.getF32Type());
  Value results =
      inlinePtx(LLVM::LLVMStructType::getLiteral(b.getContext(), f32s), text,
                constraints, operands);
  for (int64_t i = 0; i < n; ++i)
    acc[i] = LLVM::ExtractValueOp::create(b, results, ArrayRef<int64_t>{i});
}

void FlashKernelEmitter::fenceRegisters(SmallVectorImpl<Value> &values,
                                        const std::string &text) {
  // The statement carries the first chunk of registers; chunks keep the
  // operand lists short, and volatile asm keeps their order.
  if (values.empty())
    inlinePtx(Type(), text, "", ValueRange{});
  constexpr size_t kChunk = 64;
  for (size_t first = 0; first < values.size(); first += kChunk) {
    size_t n = std::min(kChunk, values.size() - first);
    SmallVector<Type> types;
    std::string outs, ins;
    for (size_t i = 0; i < n; ++i) {
      Type t = values[first + i].getType();
      types.push_back(t);
      outs += t.isF32() ? "=f," : "=r,";
      ins += (i ? "," : "") + std::to_string(i);
    }
    Value results =
        inlinePtx(LLVM::LLVMStructType::getLiteral(b.getContext(), types),
                  first == 0 ? text : std::string(), outs + ins,
                  ArrayRef<Value>(values).slice(first, n));
    for (size_t i = 0; i < n; ++i)
      values[first + i] = LLVM::ExtractValueOp::create(
          b, results, ArrayRef<int64_t>{int64_t(i)});
  }
}

void FlashKernelEmitter::wgmmaCommit() {
  inlinePtx(Type(), "wgmma.commit_group.sync.aligned;", "", ValueRange{});
}

void FlashKernelEmitter::wgmmaWait(int64_t pending,
                                   SmallVectorImpl<Value> &acc) {
  fenceRegisters(acc, "wgmma.wait_group.sync.aligned " +
                          std::to_string(pending) + ";");
}

void FlashKernelEmitter::emit(gpu::GPUFuncOp func) {
  MLIRContext *ctx = b.getContext();
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  unsigned argNo = 0;
  q = entry.getArgument(argNo++);
  k = entry.getArgument(argNo++);
  v = entry.getArgument(argNo++);
  if (g.hasBias())
    bias = entry.getArgument(argNo++);
  if (g.hasBoolMask())
    boolMask = entry.getArgument(argNo++);
  if (g.hasSegments) {
    qSegments = entry.getArgument(argNo++);
    kvSegments = entry.getArgument(argNo++);
  }
  if (g.hasKvLengths)
    kvLengths = entry.getArgument(argNo++);
  if (g.paged())
    blockTable = entry.getArgument(argNo++);
  if (g.splits == 1) {
    out = entry.getArgument(argNo++);
    if (g.hasLse)
      lseOut = entry.getArgument(argNo++);
  } else {
    partOut = entry.getArgument(argNo++);
    partLse = entry.getArgument(argNo++);
  }
  if (g.tma) {
    auto address = [&](Value map) -> Value {
      return arith::IndexCastUIOp::create(
          b, b.getI64Type(),
          memref::ExtractAlignedPointerAsIndexOp::create(b, map));
    };
    tensorMapK = address(entry.getArgument(argNo++));
    tensorMapV = address(entry.getArgument(argNo++));
  }

  const int64_t D = g.headDim, R = g.rows(), G = g.group;
  const int64_t warpKeys = g.warpKeys(), MT = g.warpRowTiles;
  const int64_t warpRows = g.warpRows();
  const int64_t kSteps = D / 16, sTiles = warpKeys / 8, oTiles = D / 8;

  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  lane = im.rem(tid, 32);
  warp = im.div(tid, 32);
  rw = im.div(warp, g.keyWarps);
  kw = im.rem(warp, g.keyWarps);
  Value bx = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  // Causal row blocks near the end see the most keys: schedule them first
  // so the short ones fill the tail of the grid.
  rowBlock = im.sub(im.c(g.rowBlocks() - 1), im.div(bx, g.splits));
  split = im.rem(bx, g.splits);
  kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);

  // Shared memory: [stages][tileKv][D + pad] for K, then V, then (when Q is
  // staged) [blockRows][D + pad] for Q; after the KV loop the same bytes
  // hold the per-warp states being merged.
  auto wg = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  Type et = elemType(ctx, g);
  Value raw = gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), nullptr, wg));
  int64_t tileBytes = g.stages * g.tileKv * g.smemRowElems() * 2;
  Value qSmem;
  if (g.wgmma) {
    // Swizzle atoms must start 1024-byte aligned in the shared window; the
    // dynamic allocation is only 16-byte aligned, so skip to the next atom
    // (sharedBytes() reserves the slack).
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, raw);
    Value pad =
        im.rem(im.sub(im.c(GpuFlashGeometry::kSwizzleAtomBytes),
                      im.rem(base, GpuFlashGeometry::kSwizzleAtomBytes)),
               GpuFlashGeometry::kSwizzleAtomBytes);
    smemBase = im.add(base, pad);
    const int64_t cb = g.colBlocks(), sw = GpuFlashGeometry::kSwizzleElems;
    auto tileTy =
        MemRefType::get({g.stages, cb, g.tileKv, sw}, et, nullptr, wg);
    kSmem = memref::ViewOp::create(b, tileTy, raw, pad, ValueRange{});
    vSmem = memref::ViewOp::create(b, tileTy, raw, im.add(pad, im.c(tileBytes)),
                                   ValueRange{});
    qSmem = memref::ViewOp::create(
        b, MemRefType::get({cb, g.blockRows(), sw}, et, nullptr, wg), raw,
        im.add(pad, im.c(2 * tileBytes)), ValueRange{});
    if (g.tma) {
      // One mbarrier per stage (arrival count 1: the issuing thread), made
      // visible to the copy engine and the block before the first copy.
      barrierBase = i32(im.add(smemBase, im.c(2 * tileBytes + g.qBytes())));
      auto leader = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0)),
          /*withElse=*/false);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(leader.thenBlock());
        for (int64_t s = 0; s < g.stages; ++s)
          inlinePtx(
              Type(), "mbarrier.init.shared::cta.b64 [$0], 1;", "r",
              ValueRange{arith::AddIOp::create(
                  b, barrierBase,
                  arith::ConstantIntOp::create(b, b.getI32Type(), 8 * s))});
        inlinePtx(Type(), "fence.mbarrier_init.release.cluster;", "",
                  ValueRange{});
      }
      gpu::BarrierOp::create(b);
    }
  } else {
    auto tileTy = MemRefType::get({g.stages, g.tileKv, g.smemRowElems()}, et,
                                  nullptr, wg);
    kSmem = memref::ViewOp::create(b, tileTy, raw, im.c(0), ValueRange{});
    vSmem =
        memref::ViewOp::create(b, tileTy, raw, im.c(tileBytes), ValueRange{});
    if (g.qInShared())
      qSmem = memref::ViewOp::create(
          b,
          MemRefType::get({g.blockRows(), g.smemRowElems()}, et, nullptr, wg),
          raw, im.c(2 * tileBytes), ValueRange{});
  }
  auto oTy =
      MemRefType::get({g.warps(), warpRows, D}, b.getF32Type(), nullptr, wg);
  auto mlTy =
      MemRefType::get({g.warps(), warpRows}, b.getF32Type(), nullptr, wg);
  int64_t oBytes = g.warps() * warpRows * D * 4;
  oSmem = memref::ViewOp::create(b, oTy, raw, im.c(0), ValueRange{});
  mSmem = memref::ViewOp::create(b, mlTy, raw, im.c(oBytes), ValueRange{});
  lSmem = memref::ViewOp::create(
      b, mlTy, raw, im.c(oBytes + g.warps() * warpRows * 4), ValueRange{});

  // Which rows and keys this block sees.
  Value row0 = im.mul(rowBlock, g.blockRows());
  len = im.c(g.kvLen);
  if (kvLengths) {
    Value l = i32ToIndex(memref::LoadOp::create(b, kvLengths, batch));
    len = im.max(im.min(l, len), im.c(0));
  }
  const MaskSpec &mask = g.mask;
  // Cache attention: the queries are the sequence's last Sq tokens.
  Value qOff =
      g.endAlignedQueries ? im.sub(len, im.c(g.qLen)) : im.c(mask.qOffset);
  Value qlo = im.add(im.div(row0, G), qOff);
  Value qhi = im.add(
      im.div(im.min(im.add(row0, g.blockRows() - 1), im.c(R - 1)), G), qOff);
  Value hiKey = len;
  if (mask.causal)
    hiKey = im.min(hiKey, im.add(qhi, 1));
  if (mask.windowRight >= 0 && mask.globalTokens == 0)
    hiKey = im.min(hiKey, im.add(qhi, mask.windowRight + 1));
  Value loKey = im.c(0);
  if (mask.windowLeft >= 0 && mask.globalTokens == 0)
    loKey = im.max(im.c(0), im.sub(qlo, im.c(mask.windowLeft)));
  hiKey = im.max(hiKey, loKey);
  Value tileLo = im.div(loKey, g.tileKv);
  Value tileHi = im.ceilDiv(hiKey, g.tileKv);
  Value perSplit = im.ceilDiv(im.sub(tileHi, tileLo), g.splits);
  Value myLo =
      im.min(im.add(tileLo, arith::MulIOp::create(b, split, perSplit)), tileHi);
  Value myHi = im.min(im.add(myLo, perSplit), tileHi);
  Value numTiles = im.sub(myHi, myLo);

  // Row r of the group is query r / G of head kvHead * G + r % G.
  auto rowHead = [&](Value row) {
    Value r = im.min(row, im.c(R - 1));
    return std::pair{im.add(im.mul(kvHead, G), im.rem(r, G)), im.div(r, G)};
  };
  // This thread's rows: lane/4 and lane/4 + 8 of each of its m tiles.
  // mma.sync: warp w owns rows [w * warpRows, (w + 1) * warpRows), m tile
  // by m tile; wgmma: M tile mt is rows [64 mt, 64 mt + 64) of the block,
  // of which warp w of the warpgroup holds [16 w, 16 w + 16).
  Value warpRow0 = im.add(row0, im.mul(rw, warpRows));
  // wgmma: the block's 64-row M tile that m tile `mt` of this thread's
  // warpgroup is.
  auto mTile = [&](int64_t mt) {
    return im.add(im.mul(im.div(warp, 4), MT), im.c(mt));
  };
  auto threadRow = [&](int64_t mt, int64_t half) {
    Value inTile = im.add(im.div(lane, 4), im.c(half * 8));
    if (g.wgmma)
      return im.add(im.add(row0, im.mul(mTile(mt), 64)),
                    im.add(im.mul(im.rem(warp, 4), 16), inTile));
    return im.add(warpRow0, im.add(inTile, im.c(mt * 16)));
  };
  Value colPair = im.mul(im.rem(lane, 4), 2);
  SmallVector<Value> qpos; // [mt * 2 + half]
  SmallVector<std::pair<Value, Value>> heads;
  for (int64_t mt = 0; mt < MT; ++mt)
    for (int64_t half = 0; half < 2; ++half) {
      heads.push_back(rowHead(threadRow(mt, half)));
      qpos.push_back(im.add(heads.back().second, qOff));
    }

  // Q: registers for the whole loop (one m tile), or staged in shared
  // memory and re-read per k step (two m tiles would not fit registers).
  auto tokenTy = nvgpu::DeviceAsyncTokenType::get(ctx);
  SmallVector<SmallVector<Value, 4>> qFrag(kSteps);
  Value qGroup;
  if (g.qInShared()) {
    int64_t chunksPerRow = D / 8;
    int64_t chunks = g.blockRows() * chunksPerRow;
    int64_t perThread = (chunks + g.threads() - 1) / g.threads();
    SmallVector<Value> tokens;
    for (int64_t c = 0; c < perThread; ++c) {
      Value e = im.min(im.add(tid, c * g.threads()), im.c(chunks - 1));
      Value row = im.div(e, chunksPerRow);
      Value col = im.mul(im.rem(e, chunksPerRow), 8);
      auto [h, sIdx] = rowHead(im.add(row0, row));
      SmallVector<Value> dst = {row, col};
      if (g.wgmma) {
        auto [block, swizzled] = swizzledColumn(row, col);
        dst = {block, row, swizzled};
      }
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, tokenTy, qSmem, dst, q, at(batch, h, sIdx, col), b.getIndexAttr(8),
          Value(), b.getUnitAttr()));
    }
    qGroup = nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenTy, tokens);
  } else {
    auto [hLo, sLo] = heads[0];
    auto [hHi, sHi] = heads[1];
    for (int64_t kc = 0; kc < kSteps; ++kc) {
      Value c0 = im.add(colPair, kc * 16), c1 = im.add(colPair, kc * 16 + 8);
      qFrag[kc] = {loadPair(q, at(batch, hLo, sLo, c0)),
                   loadPair(q, at(batch, hHi, sHi, c0)),
                   loadPair(q, at(batch, hLo, sLo, c1)),
                   loadPair(q, at(batch, hHi, sHi, c1))};
    }
  }

  // Prologue: the first `stages - 1` tiles in flight. Indices past the
  // block's range re-read its last tile (uniform group counting; a block
  // without tiles reads tile myLo, which is in bounds).
  const int64_t S = g.stages;
  auto clampedTile = [&](Value i) {
    return im.add(myLo, im.max(im.min(i, im.sub(numTiles, im.c(1))), im.c(0)));
  };
  Value firstGroup;
  // TMA: only tiles the block owns are copied, so every armed mbarrier
  // phase is waited for and no copy is in flight when the block exits.
  auto ifOwned = [&](Value i, auto body) {
    auto owned = scf::IfOp::create(b, im.lt(i, numTiles), /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(owned.thenBlock());
    body();
  };
  if (g.tma) {
    // Q (cp.async) landed and is visible to the tensor cores.
    nvgpu::DeviceAsyncWaitOp::create(b, qGroup, b.getI32IntegerAttr(0));
    inlinePtx(Type(), "fence.proxy.async.shared::cta;", "", ValueRange{});
    gpu::BarrierOp::create(b);
    for (int64_t j = 0; j < S - 1; ++j)
      ifOwned(im.c(j), [&] { loadTileTma(im.add(myLo, im.c(j)), im.c(j)); });
  } else {
    for (int64_t j = 0; j < S - 1; ++j) {
      Value group = loadTile(clampedTile(im.c(j)), im.c(j));
      if (!firstGroup)
        firstGroup = group;
    }
  }

  // Loop state: per (m tile, half) row max and partial sum, O fragments.
  const int64_t halves = 2 * MT;
  SmallVector<Value> init;
  for (int64_t i = 0; i < halves; ++i)
    init.push_back(cf(kNegInf));
  for (int64_t i = 0; i < halves; ++i)
    init.push_back(cf(0));
  for (int64_t i = 0; i < MT * oTiles * 4; ++i)
    init.push_back(cf(0));
  auto loop = scf::ForOp::create(b, im.c(0), numTiles, im.c(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value it = loop.getInductionVar();
    SmallVector<Value> st(loop.getRegionIterArgs());
    SmallVector<Value> m(st.begin(), st.begin() + halves);
    SmallVector<Value> l(st.begin() + halves, st.begin() + 2 * halves);
    // o[mt][t] holds 4 f32.
    Fragments o(MT, SmallVector<SmallVector<Value>>(oTiles));
    for (int64_t mt = 0; mt < MT; ++mt)
      for (int64_t t = 0; t < oTiles; ++t) {
        auto first = st.begin() + 2 * halves + (mt * oTiles + t) * 4;
        o[mt][t].assign(first, first + 4);
      }

    Value tile = im.add(myLo, it);
    Value stage = im.rem(it, S);
    // Prefetch tile it + S - 1 into the stage read by iteration it - 1
    // (every warp left it at that iteration's closing barrier).
    Value ahead = im.add(it, im.c(S - 1));
    if (g.tma) {
      ifOwned(ahead,
              [&] { loadTileTma(im.add(myLo, ahead), im.rem(ahead, S)); });
      // Use u = it / S of this stage completes mbarrier phase u; every
      // thread waits itself (the copy engine's writes need no barrier).
      waitTileTma(stage, i32(im.rem(im.div(it, S), 2)));
    } else {
      Value newest = loadTile(clampedTile(ahead), im.rem(ahead, S));
      // All but the newest S - 1 groups done: this tile (and Q) have landed
      // for this thread's copies; the barrier makes everyone's visible.
      nvgpu::DeviceAsyncWaitOp::create(b, newest, b.getI32IntegerAttr(S - 1));
      if (g.wgmma) {
        // The tensor cores read shared memory through the async proxy:
        // order this thread's landed copies before it, then the barrier.
        inlinePtx(Type(), "fence.proxy.async.shared::cta;", "", ValueRange{});
      }
      gpu::BarrierOp::create(b);
    }

    // S = Q·Kᵀ over this warp's keys of the tile; s[mt][t] holds 4 f32.
    Value keyOff = im.mul(kw, warpKeys);
    Fragments s(MT, SmallVector<SmallVector<Value>>(sTiles));
    Value tileKeyBase = im.add(im.mul(tile, g.tileKv), im.mul(kw, warpKeys));
    // Partially visible tiles evaluate the mask per score.
    Value tileKey0 = im.mul(tile, g.tileKv);
    Value tileEnd = im.add(tileKey0, im.c(g.tileKv));
    Value full = im.le(tileEnd, len);
    auto andFull = [&](Value c) { full = arith::AndIOp::create(b, full, c); };
    if (mask.causal)
      andFull(im.le(im.sub(tileEnd, im.c(1)), qlo));
    if (mask.windowLeft >= 0)
      andFull(im.le(im.sub(qhi, tileKey0), im.c(mask.windowLeft)));
    if (mask.windowRight >= 0)
      andFull(
          im.le(im.sub(im.sub(tileEnd, im.c(1)), qlo), im.c(mask.windowRight)));
    if (mask.dilation > 1 || g.hasCustomMask())
      full = arith::ConstantOp::create(b, b.getBoolAttr(false));
    Value scaleLog2 = cf((g.prescaled() ? 1.0f : g.scale) * kLog2e);
    SmallVector<Value> newM(halves), corr(halves), sum(halves);
    // Scores of m tiles [mtLo, mtHi) -> probabilities (bias, softcap,
    // mask, online softmax), their O accumulators rescaled.
    auto scoresToProbabilities = [&](int64_t mtLo, int64_t mtHi) {
      // Visits each score of m tiles [mtLo, mtHi) with its query head,
      // query and key (keys past the end clamped to the last one; they are
      // masked below).
      auto forEachScore = [&](auto body) {
        for (int64_t mt = mtLo; mt < mtHi; ++mt)
          for (int64_t t = 0; t < sTiles; ++t)
            for (int64_t i = 0; i < 4; ++i) {
              auto [h, sIdx] = heads[mt * 2 + i / 2];
              Value key = im.min(
                  im.add(tileKeyBase, im.add(colPair, im.c(t * 8 + (i % 2)))),
                  im.c(g.kvLen - 1));
              body(s[mt][t][i], h, sIdx, key);
            }
      };
      // Additive bias (ALiBi, relative positions): s = scale * s + bias, one
      // scalar load per score (size-1 dims broadcast; keys past the end read
      // the last key, masked below).
      if (g.hasBias()) {
        Value scaleC = cf(g.scale);
        auto pick = [&](int64_t dim, Value i) {
          return g.biasShape[dim] == 1 ? im.c(0) : i;
        };
        forEachScore([&](Value &score, Value h, Value sIdx, Value key) {
          Value x =
              memref::LoadOp::create(b, bias,
                                     ValueRange{pick(0, batch), pick(1, h),
                                                pick(2, sIdx), pick(3, key)});
          if (!x.getType().isF32())
            x = arith::ExtFOp::create(b, b.getF32Type(), x);
          score = math::FmaOp::create(b, score, scaleC, x);
        });
      }

      // score_mod (FlexAttention): the region, inlined per score, maps the
      // scaled (and biased) logit of (batch, query head, query, key).
      if (g.scoreMod) {
        Value scaleC = cf(g.scale);
        forEachScore([&](Value &score, Value h, Value sIdx, Value key) {
          Value x = g.hasBias() ? score : fmul(score, scaleC);
          score = inlineModifier(*g.scoreMod, {x, batch, h, sIdx, key});
        });
      }

      // Softcapping (Gemma 2): s = softcap * tanh(scale * s / softcap), so the
      // scores below are already scaled. tanh.approx (sm_75+) through the
      // generic intrinsic with afn: no libdevice.
      if (g.softcap > 0) {
        Value inner =
                  cf((g.hasBias() || g.scoreMod ? 1.0f : g.scale) / g.softcap),
              outer = cf(g.softcap);
        auto afn = LLVM::FastmathFlagsAttr::get(ctx, LLVM::FastmathFlags::afn);
        for (int64_t mt = mtLo; mt < mtHi; ++mt)
          for (auto &tileS : s[mt])
            for (Value &x : tileS)
              x = fmul(LLVM::CallIntrinsicOp::create(
                           b, TypeRange{b.getF32Type()},
                           b.getStringAttr("llvm.tanh.f32"),
                           ValueRange{fmul(x, inner)}, afn)
                           .getResult(0),
                       outer);
      }

      // Partially visible tiles evaluate the mask per score.
      Fragments part(s.begin() + mtLo, s.begin() + mtHi);
      SmallVector<Value> flat = flatten(part);
      SmallVector<Type> flatTypes(flat.size(), b.getF32Type());
      auto ifMask = scf::IfOp::create(b, flatTypes, full, /*withElse=*/true);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifMask.thenBlock());
        scf::YieldOp::create(b, flat);
        b.setInsertionPointToStart(ifMask.elseBlock());
        SmallVector<Value> masked;
        Value ninf = cf(kNegInf);
        for (int64_t mt = mtLo; mt < mtHi; ++mt)
          for (int64_t t = 0; t < sTiles; ++t)
            for (int64_t i = 0; i < 4; ++i) {
              Value key = im.add(im.add(tileKey0, keyOff),
                                 im.add(colPair, im.c(t * 8 + (i % 2))));
              Value keep = arith::AndIOp::create(
                  b, im.lt(key, len), allows(qpos[mt * 2 + i / 2], key));
              if (g.hasCustomMask()) {
                auto [h, sIdx] = heads[mt * 2 + i / 2];
                keep = arith::AndIOp::create(
                    b, keep,
                    customAllows(h, sIdx, im.min(key, im.c(g.kvLen - 1))));
              }
              masked.push_back(
                  select(keep, flat[((mt - mtLo) * sTiles + t) * 4 + i], ninf));
            }
        scf::YieldOp::create(b, masked);
      }
      unflatten(part, ifMask.getResults());
      std::copy(part.begin(), part.end(), s.begin() + mtLo);

      // Online softmax in base 2. The scale is positive, so the row max of
      // the raw scores picks the same element; one FMA per score then gives
      // s * scale * log2(e) - max. The running max is only raised when a
      // score exceeds it by more than 2^kLazyRescaleLog2 (probabilities up to
      // 256 are exact enough in f32 sums and bf16 P): after the first tiles
      // the accumulator rescale, as many FMULs as MMAs, is skipped for the
      // whole warp.
      Value anyRaised = arith::ConstantOp::create(b, b.getBoolAttr(false));
      for (int64_t mt = mtLo; mt < mtHi; ++mt)
        for (int64_t half = 0; half < 2; ++half) {
          int64_t hI = mt * 2 + half;
          Value mx = cf(kNegInf);
          for (auto &tileS : s[mt])
            mx = fmax(mx, fmax(tileS[2 * half], tileS[2 * half + 1]));
          Value scaled = fmul(quadReduce(mx, true), scaleLog2);
          Value raise =
              arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, scaled,
                                    fadd(m[hI], cf(kLazyRescaleLog2)));
          anyRaised = arith::OrIOp::create(b, anyRaised, raise);
          newM[hI] = select(raise, scaled, m[hI]);
          Value base = safeMax(newM[hI]);
          corr[hI] = ex2(fsub(m[hI], base));
          Value negBase = arith::NegFOp::create(b, base);
          sum[hI] = cf(0);
          for (auto &tileS : s[mt])
            for (int64_t i = 2 * half; i < 2 * half + 2; ++i) {
              tileS[i] =
                  ex2(math::FmaOp::create(b, tileS[i], scaleLog2, negBase));
              sum[hI] = fadd(sum[hI], tileS[i]);
            }
          l[hI] = fadd(fmul(l[hI], corr[hI]), sum[hI]);
        }
      Value fullMask = arith::ConstantIntOp::create(b, b.getI32Type(), -1);
      Value warpRaised = NVVM::VoteSyncOp::create(
          b, b.getI1Type(), fullMask, anyRaised,
          NVVM::VoteSyncKindAttr::get(ctx, NVVM::VoteSyncKind::any));
      Fragments oPart(o.begin() + mtLo, o.begin() + mtHi);
      SmallVector<Value> oFlat = flatten(oPart);
      SmallVector<Type> oTypes(oFlat.size(), b.getF32Type());
      auto ifRescale = scf::IfOp::create(b, oTypes, warpRaised, true);
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifRescale.thenBlock());
        SmallVector<Value> scaled;
        for (int64_t mt = mtLo; mt < mtHi; ++mt)
          for (int64_t t = 0; t < oTiles; ++t)
            for (int64_t i = 0; i < 4; ++i)
              scaled.push_back(fmul(oFlat[((mt - mtLo) * oTiles + t) * 4 + i],
                                    corr[mt * 2 + i / 2]));
        scf::YieldOp::create(b, scaled);
        b.setInsertionPointToStart(ifRescale.elseBlock());
        scf::YieldOp::create(b, oFlat);
      }
      unflatten(oPart, ifRescale.getResults());
      std::copy(oPart.begin(), oPart.end(), o.begin() + mtLo);
    };
    for (auto &rowTile : s)
      for (auto &tileS : rowTile)
        tileS = {cf(0), cf(0), cf(0), cf(0)};
    Value m8 = im.div(lane, 8), l8 = im.rem(lane, 8);
    SmallVector<SmallVector<Value>> sPending; // wgmma: S in flight per m tile
    if (g.wgmma) {
      // K-major operands, 128-byte swizzle: 8-row groups 1024 bytes apart
      // (stride offset); a k16 step is 32 bytes into the 128-byte row of
      // its 64-column block.
      const int64_t atom = GpuFlashGeometry::kSwizzleAtomBytes;
      const int64_t blockBytesK = g.tileKv * 128,
                    blockBytesQ = g.blockRows() * 128;
      Value kBase =
          im.add(smemBase, im.mul(stage, g.colBlocks() * blockBytesK));
      Value qBase =
          im.add(smemBase, im.c(2 * g.stages * g.colBlocks() * blockBytesK));
      SmallVector<SmallVector<Value>> acc(MT);
      Value undef = LLVM::UndefOp::create(b, b.getF32Type());
      for (auto &a : acc)
        a.assign(sTiles * 4, undef);
      inlinePtx(Type(), "wgmma.fence.sync.aligned;", "", ValueRange{});
      // One commit group per M tile: the softmax of tile 0 overlaps the
      // tensor cores' work on tile 1 (and tile 1's softmax tile 0's P·V).
      for (int64_t mt = 0; mt < MT; ++mt) {
        for (int64_t kc = 0; kc < kSteps; ++kc) {
          int64_t colOff = (kc % 4) * 32;
          Value bDesc = wgmmaDescriptor(
              im.add(kBase, im.c((kc / 4) * blockBytesK + colOff)), 16, atom);
          Value aDesc =
              wgmmaDescriptor(im.add(im.add(qBase, im.mul(mTile(mt), 64 * 128)),
                                     im.c((kc / 4) * blockBytesQ + colOff)),
                              16, atom);
          wgmma(acc[mt], aDesc, {}, bDesc, /*transposeB=*/false,
                /*accumulate=*/kc > 0);
        }
        wgmmaCommit();
      }
      sPending = std::move(acc);
    }
    for (int64_t kc = 0; kc < (g.wgmma ? 0 : kSteps); ++kc) {
      SmallVector<SmallVector<Value, 4>> qa(MT);
      for (int64_t mt = 0; mt < MT; ++mt) {
        if (!g.qInShared()) {
          qa[mt] = qFrag[kc];
          continue;
        }
        // Matrices: (rows 0-7, k lo), (rows 8-15, k lo), (0-7, hi), (8-15, hi).
        Value row = im.add(im.mul(rw, warpRows),
                           im.add(im.rem(lane, 16), im.c(mt * 16)));
        Value col = im.add(im.mul(im.div(lane, 16), 8), im.c(kc * 16));
        qa[mt] = ldmatrix4(qSmem, {row, col}, /*transpose=*/false);
      }
      for (int64_t t = 0; t < sTiles; t += 2) {
        // Matrices: (tile t, k lo), (t, k hi), (t+1, k lo), (t+1, k hi).
        Value key = im.add(im.add(keyOff, im.mul(im.div(m8, 2), 8)),
                           im.add(l8, im.c(t * 8)));
        Value col = im.add(im.mul(im.rem(m8, 2), 8), im.c(kc * 16));
        auto frag = ldmatrix4(kSmem, {stage, key, col}, /*transpose=*/false);
        for (int64_t mt = 0; mt < MT; ++mt) {
          mma(qa[mt], {frag[0], frag[1]}, s[mt][t]);
          mma(qa[mt], {frag[2], frag[3]}, s[mt][t + 1]);
        }
      }
    }

    if (!g.wgmma)
      scoresToProbabilities(0, MT);

    // O += P·V: the score accumulators of key tiles 2kk, 2kk+1 are the A
    // fragment of keys [16kk, 16kk + 16).
    if (g.wgmma) {
      // V is the B operand read N-major (d contiguous): 64-column blocks
      // tileKv * 128 bytes apart (leading offset), 8-key groups 1024 bytes
      // apart (stride offset); a k16 step is 16 key rows = 2048 bytes.
      const int64_t blockBytes = g.tileKv * 128;
      Value vBase =
          im.add(smemBase, im.c(g.stages * g.colBlocks() * blockBytes));
      vBase = im.add(vBase, im.mul(stage, g.colBlocks() * blockBytes));
      for (int64_t mt = 0; mt < MT; ++mt) {
        // Oldest pending group: S of this m tile (later S tiles and the
        // earlier tiles' P·V may still run).
        wgmmaWait(MT - 1, sPending[mt]);
        for (int64_t t = 0; t < sTiles; ++t)
          s[mt][t].assign(sPending[mt].begin() + t * 4,
                          sPending[mt].begin() + t * 4 + 4);
        scoresToProbabilities(mt, mt + 1);
        SmallVector<Value> regs;
        for (auto &tileO : o[mt])
          regs.append(tileO.begin(), tileO.end());
        const int64_t oCount = regs.size();
        for (int64_t kk = 0; kk < sTiles / 2; ++kk) {
          auto &lo = s[mt][2 * kk], &hi = s[mt][2 * kk + 1];
          for (Value x : {packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                          packPair(hi[0], hi[1]), packPair(hi[2], hi[3])})
            regs.push_back(LLVM::BitcastOp::create(b, b.getI32Type(), x));
        }
        // P and the rescaled O were written by ordinary instructions.
        fenceRegisters(regs, "wgmma.fence.sync.aligned;");
        SmallVector<Value> acc(regs.begin(), regs.begin() + oCount);
        for (int64_t kk = 0; kk < sTiles / 2; ++kk) {
          Value bDesc =
              wgmmaDescriptor(im.add(vBase, im.c(kk * 2048)), blockBytes,
                              GpuFlashGeometry::kSwizzleAtomBytes);
          auto first = regs.begin() + oCount + kk * 4;
          wgmma(acc, Value(), SmallVector<Value>(first, first + 4), bDesc,
                /*transposeB=*/true, /*accumulate=*/true);
        }
        wgmmaCommit();
        for (int64_t t = 0; t < oTiles; ++t)
          o[mt][t].assign(acc.begin() + t * 4, acc.begin() + t * 4 + 4);
      }
      SmallVector<Value> all = flatten(o);
      wgmmaWait(0, all);
      unflatten(o, all);
    }
    for (int64_t kk = 0; kk < (g.wgmma ? 0 : sTiles / 2); ++kk) {
      SmallVector<SmallVector<Value, 4>> pFrag;
      for (int64_t mt = 0; mt < MT; ++mt) {
        auto &lo = s[mt][2 * kk], &hi = s[mt][2 * kk + 1];
        pFrag.push_back({packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                         packPair(hi[0], hi[1]), packPair(hi[2], hi[3])});
      }
      for (int64_t t = 0; t < oTiles; t += 2) {
        // Matrices: (keys lo, d tile t), (keys hi, t), (lo, t+1), (hi, t+1).
        Value key = im.add(im.add(keyOff, im.c(kk * 16)),
                           im.add(im.mul(im.rem(m8, 2), 8), l8));
        Value col = im.mul(im.add(im.div(m8, 2), im.c(t)), 8);
        auto frag = ldmatrix4(vSmem, {stage, key, col}, /*transpose=*/true);
        for (int64_t mt = 0; mt < MT; ++mt) {
          mma(pFrag[mt], {frag[0], frag[1]}, o[mt][t]);
          mma(pFrag[mt], {frag[2], frag[3]}, o[mt][t + 1]);
        }
      }
    }
    // Every warp is done with this stage before the next iteration's copies
    // overwrite it.
    gpu::BarrierOp::create(b);

    SmallVector<Value> yield(newM);
    yield.append(l.begin(), l.end());
    llvm::append_range(yield, flatten(o));
    scf::YieldOp::create(b, yield);
  }

  // Drain the copies still in flight before the bytes are reused.
  if (firstGroup) // one stage: every group was waited for in the loop
    nvgpu::DeviceAsyncWaitOp::create(b, firstGroup, b.getI32IntegerAttr(0));
  gpu::BarrierOp::create(b);

  SmallVector<Value> res(loop.getResults());
  Value r16 = im.div(lane, 4);
  if (g.keyWarps == 1) {
    // Each row lives in one warp: normalize in registers and store the
    // fragments' column pairs directly (no merge through shared memory).
    for (int64_t hI = 0; hI < halves; ++hI) {
      int64_t mt = hI / 2, half = hI % 2;
      Value lTot = quadReduce(res[halves + hI], false);
      Value seen =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTot, cf(0));
      Value inv = select(
          seen, arith::DivFOp::create(b, cf(1), select(seen, lTot, cf(1))),
          cf(0));
      Value row = threadRow(mt, half);
      auto inRange = scf::IfOp::create(b, im.lt(row, im.c(R)), false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inRange.thenBlock());
      Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
      Value sIdx = im.div(row, G);
      Value prow;
      if (g.splits > 1)
        prow = im.add(
            im.mul(im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead), R),
                          row),
                   g.splits),
            split);
      for (int64_t t = 0; t < oTiles; ++t) {
        int64_t first = 2 * halves + (mt * oTiles + t) * 4 + half * 2;
        Value x0 = fmul(res[first], inv), x1 = fmul(res[first + 1], inv);
        Value col = im.add(colPair, im.c(t * 8));
        if (g.splits == 1) {
          Value pair = vector::FromElementsOp::create(
              b, VectorType::get({2}, et),
              ValueRange{arith::TruncFOp::create(b, et, x0),
                         arith::TruncFOp::create(b, et, x1)});
          vector::StoreOp::create(b, pair, out, at(batch, h, sIdx, col));
        } else {
          Value pair = vector::FromElementsOp::create(
              b, VectorType::get({2}, b.getF32Type()), ValueRange{x0, x1});
          vector::StoreOp::create(b, pair, partOut, ValueRange{prow, col});
        }
      }
      if (g.splits > 1 || g.hasLse) {
        auto lead =
            scf::IfOp::create(b,
                              arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                                    im.rem(lane, 4), im.c(0)),
                              false);
        b.setInsertionPointToStart(lead.thenBlock());
        if (g.splits > 1) {
          Value lse = select(
              seen, fadd(safeMax(res[hI]), lg2(select(seen, lTot, cf(1)))),
              cf(kNegInf));
          memref::StoreOp::create(b, lse, partLse, ValueRange{prow});
        } else {
          memref::StoreOp::create(b, naturalLse(seen, safeMax(res[hI]), lTot),
                                  lseOut, ValueRange{batch, h, sIdx});
        }
      }
    }
    gpu::ReturnOp::create(b);
    return;
  }

  // Each warp parks its state in shared memory.
  for (int64_t mt = 0; mt < MT; ++mt)
    for (int64_t t = 0; t < oTiles; ++t)
      for (int64_t i = 0; i < 4; ++i) {
        Value row = im.add(r16, im.c(mt * 16 + (i / 2) * 8));
        Value col = im.add(colPair, im.c(t * 8 + (i % 2)));
        memref::StoreOp::create(b, res[2 * halves + (mt * oTiles + t) * 4 + i],
                                oSmem, ValueRange{warp, row, col});
      }
  SmallVector<Value> lSum;
  for (int64_t hI = 0; hI < halves; ++hI)
    lSum.push_back(quadReduce(res[halves + hI], false));
  Value leader = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                       im.rem(lane, 4), im.c(0));
  auto ifLeader = scf::IfOp::create(b, leader, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLeader.thenBlock());
    for (int64_t hI = 0; hI < halves; ++hI) {
      Value row = im.add(r16, im.c((hI / 2) * 16 + (hI % 2) * 8));
      memref::StoreOp::create(b, res[hI], mSmem, ValueRange{warp, row});
      memref::StoreOp::create(b, lSum[hI], lSmem, ValueRange{warp, row});
    }
  }
  gpu::BarrierOp::create(b);

  // Merge the key warps of each row and write the block's rows once,
  // consecutive threads on consecutive columns.
  int64_t elems = g.blockRows() * D;
  auto fin = scf::ForOp::create(b, tid, im.c(elems), im.c(g.threads()));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(fin.getBody());
    Value e = fin.getInductionVar();
    Value rowInBlock = im.div(e, D), d = im.rem(e, D);
    Value rowWarp = im.div(rowInBlock, warpRows);
    Value r = im.rem(rowInBlock, warpRows);
    Value firstWarp = im.mul(rowWarp, g.keyWarps);
    SmallVector<Value> ms, ls, os;
    Value mx = cf(kNegInf);
    for (int64_t w = 0; w < g.keyWarps; ++w) {
      Value wi = im.add(firstWarp, im.c(w));
      ms.push_back(memref::LoadOp::create(b, mSmem, ValueRange{wi, r}));
      ls.push_back(memref::LoadOp::create(b, lSmem, ValueRange{wi, r}));
      os.push_back(memref::LoadOp::create(b, oSmem, ValueRange{wi, r, d}));
      mx = fmax(mx, ms.back());
    }
    Value base = safeMax(mx);
    Value lTot = cf(0), acc = cf(0);
    for (int64_t w = 0; w < g.keyWarps; ++w) {
      Value f = ex2(fsub(ms[w], base));
      lTot = fadd(lTot, fmul(ls[w], f));
      acc = fadd(acc, fmul(os[w], f));
    }
    Value seen =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, lTot, cf(0));
    Value safeL = select(seen, lTot, cf(1));
    Value value = select(seen, arith::DivFOp::create(b, acc, safeL), cf(0));
    Value row = im.add(row0, rowInBlock);
    auto inRange = scf::IfOp::create(b, im.lt(row, im.c(R)), false);
    b.setInsertionPointToStart(inRange.thenBlock());
    if (g.splits == 1) {
      Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
      Value sIdx = im.div(row, G);
      memref::StoreOp::create(b, arith::TruncFOp::create(b, et, value), out,
                              at(batch, h, sIdx, d));
      if (g.hasLse) {
        auto first = scf::IfOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, im.c(0)),
            false);
        b.setInsertionPointToStart(first.thenBlock());
        memref::StoreOp::create(b, naturalLse(seen, base, lTot), lseOut,
                                ValueRange{batch, h, sIdx});
      }
    } else {
      Value prow = im.add(
          im.mul(
              im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead), R), row),
              g.splits),
          split);
      memref::StoreOp::create(b, value, partOut, ValueRange{prow, d});
      auto first = scf::IfOp::create(
          b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, d, im.c(0)),
          false);
      b.setInsertionPointToStart(first.thenBlock());
      Value lse = select(seen, fadd(base, lg2(safeL)), cf(kNegInf));
      memref::StoreOp::create(b, lse, partLse, ValueRange{prow});
    }
  }
  gpu::ReturnOp::create(b);
}

void FlashKernelEmitter::emitCombine(gpu::GPUFuncOp func) {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  partOut = entry.getArgument(0);
  partLse = entry.getArgument(1);
  out = entry.getArgument(2);
  if (g.hasLse)
    lseOut = entry.getArgument(3);
  const int64_t D = g.headDim, R = g.rows(), G = g.group, S = g.splits;
  tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value row = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  kvHead = gpu::BlockIdOp::create(b, gpu::Dimension::y);
  batch = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  Value first = im.mul(
      im.add(im.mul(im.add(im.mul(batch, g.kvHeads), kvHead), R), row), S);
  auto active = scf::IfOp::create(b, im.lt(tid, im.c(D)), false);
  b.setInsertionPointToStart(active.thenBlock());
  SmallVector<Value> lses;
  Value m = cf(kNegInf);
  for (int64_t s = 0; s < S; ++s) {
    lses.push_back(
        memref::LoadOp::create(b, partLse, ValueRange{im.add(first, s)}));
    m = fmax(m, lses.back());
  }
  Value base = safeMax(m);
  Value den = cf(0), num = cf(0);
  for (int64_t s = 0; s < S; ++s) {
    Value f = ex2(fsub(lses[s], base));
    Value x =
        memref::LoadOp::create(b, partOut, ValueRange{im.add(first, s), tid});
    den = fadd(den, f);
    num = fadd(num, fmul(f, x));
  }
  Value seen = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, den, cf(0));
  Value value = select(
      seen, arith::DivFOp::create(b, num, select(seen, den, cf(1))), cf(0));
  Value h = im.add(im.mul(kvHead, G), im.rem(row, G));
  Value sIdx = im.div(row, G);
  memref::StoreOp::create(
      b, arith::TruncFOp::create(b, elemType(b.getContext(), g), value), out,
      at(batch, h, sIdx, tid));
  if (g.hasLse) {
    auto firstThread = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, im.c(0)),
        false);
    b.setInsertionPointToStart(firstThread.thenBlock());
    memref::StoreOp::create(b, naturalLse(seen, base, den), lseOut,
                            ValueRange{batch, h, sIdx});
  }
  b.setInsertionPointAfter(active);
  gpu::ReturnOp::create(b);
}

gpu::GPUFuncOp createKernelFunc(OpBuilder &b, Location loc, StringRef name,
                                TypeRange params, int64_t threads) {
  auto func =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(params, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  func.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  return func;
}

} // namespace

gpu::GPUFuncOp mlir::attn::emitFlashKernel(OpBuilder &ob, Location loc,
                                           const GpuFlashGeometry &g,
                                           StringRef name) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params = {gpuQueryType(ctx, g), gpuKvType(ctx, g),
                              gpuKvType(ctx, g)};
  if (g.hasBias())
    params.push_back(MemRefType::get(g.biasShape, g.biasType));
  if (g.hasBoolMask())
    params.push_back(MemRefType::get(g.boolMaskShape, ob.getI1Type()));
  if (g.hasSegments)
    params.append({MemRefType::get({g.batch, g.qLen}, ob.getI32Type()),
                   MemRefType::get({g.batch, g.kvLen}, ob.getI32Type())});
  if (g.hasKvLengths)
    params.push_back(MemRefType::get({g.batch}, ob.getI32Type()));
  if (g.paged())
    params.push_back(gpuBlockTableType(ctx, g));
  if (g.splits == 1) {
    params.push_back(gpuQueryType(ctx, g));
    if (g.hasLse)
      params.push_back(gpuLseType(ctx, g));
  } else {
    params.push_back(gpuScratchOutType(ctx, g));
    params.push_back(gpuScratchLseType(ctx, g));
  }
  if (g.tma)
    params.append({gpuTensorMapType(ctx), gpuTensorMapType(ctx)});
  auto func = createKernelFunc(ob, loc, name, params, g.threads());
  ImplicitLocOpBuilder b(loc, ob);
  FlashKernelEmitter(b, g).emit(func);
  return func;
}

gpu::GPUFuncOp mlir::attn::emitCombineKernel(OpBuilder &ob, Location loc,
                                             const GpuFlashGeometry &g,
                                             StringRef name) {
  MLIRContext *ctx = ob.getContext();
  SmallVector<Type> params = {gpuScratchOutType(ctx, g),
                              gpuScratchLseType(ctx, g), gpuQueryType(ctx, g)};
  if (g.hasLse)
    params.push_back(gpuLseType(ctx, g));
  auto func = createKernelFunc(ob, loc, name, params, 128);
  ImplicitLocOpBuilder b(loc, ob);
  FlashKernelEmitter(b, g).emitCombine(func);
  return func;
}
