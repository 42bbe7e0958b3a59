//===- GpuBlockSparse.cpp - block_mask operands of attn-gpu-flash ---------===//
//
// What attn-gpu-flash takes of attn.attention's block_mask: static list
// shapes and sizes (the shared-memory bitmaps of passes/gpu/BlockSparse.cpp
// are sized by the KV block count); the kernel iterates the lists.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashLowering.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult gpu_lowering::fillBlockSparse(AttentionOp op,
                                            GpuFlashGeometry &g) {
  if (!op.getKvNumBlocks())
    return success();
  auto counts = cast<ShapedType>(op.getKvNumBlocks().getType());
  auto lists = cast<ShapedType>(op.getKvIndices().getType());
  if (g.dynamicSizes() || !counts.hasStaticShape() || !lists.hasStaticShape())
    return op.emitOpError(
        "attn-gpu-flash takes block-sparse masks with static sizes only "
        "(batch, Sq, Skv and the list shapes): the kernel sizes its "
        "shared-memory bitmaps by the KV block count");
  ArrayRef<int64_t> sizes = *op.getBlockSize();
  g.sparseQBlock = sizes[0];
  g.sparseKvBlock = sizes[1];
  g.sparseBatch = counts.getDimSize(0);
  g.sparseHeads = counts.getDimSize(1);
  g.sparseQBlocks = counts.getDimSize(2);
  g.sparseMaxBlocks = lists.getDimSize(3);
  return success();
}
