//===- BackwardKernel.h - attn.attention_grad as GPU kernels ---*- C++ -*-===//
//
// The geometry and the three kernels of the GPU backward (FlashAttention-2
// form, mma.sync), emitted by passes/gpu/BackwardKernel.cpp (the main
// kernel) and BackwardRows.cpp (the per-row pre- and post-passes); the pass
// in passes/GpuBackward.cpp reads the op and writes the launches:
//
//   <name>_bwd_pre   D = rowsum(dO ∘ O) (f32), the dQ accumulator zeroed;
//   <name>_bwd       one block per (KV block of 64 keys, KV head, batch):
//                    P recomputed from Q·Kᵀ and the forward's lse, dK and dV
//                    in registers (f32), dQ added to the f32 accumulator
//                    with atomics;
//   <name>_bwd_dq    dQ = scale · accumulator, rounded to the element type.
//
// Internal to passes/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPU_BACKWARDKERNEL_H
#define ATTN_PASSES_GPU_BACKWARDKERNEL_H

#include "passes/GpuFlashKernel.h"

namespace mlir::attn {

/// The backward's shape on the flash geometry's fields (batch, heads,
/// group, qLen, kvLen, headDim, dtype, layout, mask, scale; tileKv = keys
/// of a block, 16 per warp; rowWarps = 4) plus the rows of one Q tile.
///
/// Rows of a (batch, KV head) group are the forward's: row r is query
/// r / G of head hkv * G + r % G, so a block walking all rows of its group
/// sums dK and dV over the group's query heads (GQA/MQA) in registers.
struct GpuBackwardGeometry : GpuFlashGeometry {
  /// Rows of a Q tile (Q, dO, lse and D of those rows per iteration).
  int64_t tileRows = 64;
  /// dQ columns one warp accumulates at a time (registers: cols / 2).
  int64_t dqCols = 64;

  int64_t kvBlocks() const { return (kvLen + tileKv - 1) / tileKv; }
  int64_t qTiles() const { return (rows() + tileRows - 1) / tileRows; }
  /// Shared-memory row of dSᵀ ([key][row], padded like the K rows).
  int64_t dsRowElems() const { return tileRows + kRowPad; }
  int64_t kvBytes() const { return 2 * tileKv * smemRowElems() * 2; }
  int64_t rowStageBytes() const {
    return 2 * tileRows * smemRowElems() * 2 + 2 * tileRows * 4;
  }
  int64_t dsBytes() const { return tileKv * dsRowElems() * 2; }
  int64_t backwardSharedBytes() const {
    return kvBytes() + stages * rowStageBytes() + dsBytes();
  }
};

/// Picks the block's keys (`tileKeys`: 64 or 128, 16 per warp; 0: 64) and
/// the Q tile for the head dim (`tileRows`: 16, 32 or 64; 0: by head dim);
/// fails with `why` on what the kernel does not support.
LogicalResult chooseGpuBackwardGeometry(GpuBackwardGeometry &g,
                                        int64_t tileKeys, int64_t tileRows,
                                        std::string &why);

/// [B, Hq, Sq] f32 (lse, D) and the dQ accumulator [B, Hq, Sq, D] f32.
MemRefType gpuRowStatsType(MLIRContext *ctx, const GpuBackwardGeometry &g);
MemRefType gpuDqAccumType(MLIRContext *ctx, const GpuBackwardGeometry &g);

/// Parameters (output, grad_output, D, dQ accumulator); grid (ceil(Sq / 4),
/// Hq, B), 128 threads: a warp per row.
gpu::GPUFuncOp emitBackwardPreKernel(OpBuilder &b, Location loc,
                                     const GpuBackwardGeometry &g,
                                     StringRef name);
/// Parameters (q, k, v, [kv_lengths], grad_output, lse, D, dQ accumulator,
/// dK, dV); grid
/// (kvBlocks, Hkv, B), 128 threads, backwardSharedBytes() of dynamic
/// shared memory.
gpu::GPUFuncOp emitBackwardKernel(OpBuilder &b, Location loc,
                                  const GpuBackwardGeometry &g, StringRef name);
/// Parameters (dQ accumulator, dQ); grid (ceil(Sq / 4), Hq, B), 128
/// threads.
gpu::GPUFuncOp emitBackwardDqKernel(OpBuilder &b, Location loc,
                                    const GpuBackwardGeometry &g,
                                    StringRef name);

} // namespace mlir::attn

#endif
