//===- GpuFlashLowering.h - host-side helpers of attn-gpu-flash -*- C++ -*-===//
//
// What the lowerings of attn-gpu-flash share on the host side: the
// @attn_gpu module, kernel names, the casts of arguments to kernel buffer
// types, the launches of a flash kernel (and its combine kernel) and the
// size checks. GpuFlash.cpp lowers attn.attention and runs the pass;
// GpuCacheOps.cpp lowers the KV-cache ops. Internal to passes/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPUFLASHLOWERING_H
#define ATTN_PASSES_GPUFLASHLOWERING_H

#include "dialect/AttnOps.h"
#include "passes/GpuFlashKernel.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn::gpu_lowering {

/// The module the kernels go into (created, and the parent marked as a
/// container module, on first use).
gpu::GPUModuleOp getOrCreateGpuModule(ModuleOp module);

/// `base`, or `base_<i>` when the name is taken in `gm`.
std::string uniqueName(gpu::GPUModuleOp gm, StringRef base);

/// `arg` as the identity-layout memref type the kernel takes (a cast the
/// runtime checks: GPU buffers must be dense).
Value asKernelBuffer(OpBuilder &b, Operation *op, Value arg, MemRefType type);

/// Emits the kernels of `g` into @attn_gpu and, at `b`, their launches:
/// the flash kernel over (row blocks x splits, KV heads, batch) reading
/// `inputs` (q, k, v, [lengths], [block table], [sinks]: with
/// `g.hasSinks` the last input, which the combine kernel reads too), then
/// with splits the combine kernel writing `out` (and `lse` when given).
/// With run-time
/// sizes, `runTimeSizes` are the host values of the kernel's size
/// parameters (GpuFlashGeometry::numSizeParams of them, batch, Sq and Skv
/// first: the grid and the split count are computed from those three);
/// with run-time splits the count is a call of kGpuKvSplitsFunc (`numSms`:
/// the SM count it falls back to) and the combine launch sits in an
/// scf.if on `splits > 1`.
void emitLaunches(OpBuilder &b, Operation *op, const GpuFlashGeometry &g,
                  SmallVector<Value> inputs, Value out, Value lse,
                  ArrayRef<Value> runTimeSizes = {}, int64_t numSms = 0);

/// Erases the lowered `op`, the bufferization materializations that wrote
/// its results, and the operand producers left without uses.
void eraseLoweredOp(Operation *op,
                    ArrayRef<bufferization::MaterializeInDestinationOp> mats);

/// CUDA launches need a non-empty grid: zero sizes are rejected with the
/// reason (`names` lists what `sizes` are). Call before anything divides
/// by a size.
LogicalResult checkGpuSizes(Operation *op, ArrayRef<int64_t> sizes,
                            StringRef names);

/// The sinks operand (when given) has the static shape [Hq] the kernels
/// read (the verifier lets a `?` through).
LogicalResult checkGpuSinks(Operation *op, Value sinks);

/// The grid fits CUDA's limits (2^31 - 1, 65535, 65535).
LogicalResult checkGrid(Operation *op, int64_t x, int64_t y, int64_t z);

/// The rotary layout of `rope` (common/Rope.h's form).
inline rope::Form gpuRopeForm(RopeAttr rope) {
  return rope.getStyle() == RopeStyle::Interleaved ? rope::Form::Interleaved
                                                   : rope::Form::NeoX;
}

/// GpuRope.cpp: the host-side checks of the rotary tables `cos`, `sin`
/// (kernel buffers) of a launch of run-time sizes: as many positions in
/// both (cf.assert, evaluated per call before anything runs). Returns
/// max_pos (the cos table's dim 0) when `wantMaxPos`, else null.
Value rotaryTableChecks(ImplicitLocOpBuilder &b, Value cos, Value sin,
                        bool wantMaxPos);

/// Launches the rotation of the queries of `op` (kernel buffer `query`,
/// cache lengths `lengths`) into a scratch buffer and returns it, typed as
/// the flash kernel's query.
Value emitQueryRotation(OpBuilder &b, CacheAttentionOp op, Value query,
                        Value lengths);

/// The block_mask fields of `g` (GpuBlockSparse.cpp); fails on what the
/// kernels do not take (run-time sizes).
LogicalResult fillBlockSparse(AttentionOp op, GpuFlashGeometry &g);

/// attn.cache_attention / attn.cache_append (GpuCacheOps.cpp).
LogicalResult lowerCacheAttention(CacheAttentionOp op,
                                  const GpuFlashOverrides &overrides,
                                  int64_t numSms);
/// The geometry of a cache_attention that does not depend on the query's
/// form: K/V form, capacity and pages, heads of the cache, Dv, dtype,
/// lengths, lse, mask, scale and softcap (GpuCacheOps.cpp).
void fillCacheGeometry(CacheAttentionOp op, GpuFlashGeometry &g);
/// attn.cache_attention with query_offsets: the mixed kernel (GpuMixed.cpp).
LogicalResult lowerMixedCacheAttention(CacheAttentionOp op,
                                       const GpuFlashOverrides &overrides,
                                       int64_t numSms);
LogicalResult lowerCacheAppend(CacheAppendOp op);

/// attn.merge_states: the `_merge` kernel over grid (S, H, B)
/// (gpu/MergeKernel.cpp); static shapes.
LogicalResult lowerMergeStates(MergeStatesOp op);

} // namespace mlir::attn::gpu_lowering

#endif
