//===- BlockMask.cpp - block-sparse mask operands
//--------------------------===//
#include "dialect/BlockMask.h"
#include "dialect/Limits.h"
#include "dialect/VerifyUtils.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::verify;

int64_t mlir::attn::blockCount(int64_t len, int64_t size) {
  if (ShapedType::isDynamic(len) || size <= 0)
    return ShapedType::kDynamic;
  return (len + size - 1) / size;
}

LogicalResult
mlir::attn::verifyBlockMask(Operation *op, Value numBlocks, Value indices,
                            std::optional<ArrayRef<int64_t>> blockSize,
                            int64_t b, int64_t hq, int64_t sq) {
  if (!numBlocks && !indices) {
    if (blockSize)
      return op->emitOpError("block_size needs a block mask (kv_num_blocks, "
                             "kv_indices)");
    return success();
  }
  if (!numBlocks || !indices)
    return op->emitOpError("a block mask needs both kv_num_blocks and "
                           "kv_indices");
  if (!blockSize || blockSize->size() != 2)
    return op->emitOpError("block_size must be [q_block, kv_block]");
  for (int64_t size : *blockSize)
    if (size < 1 || size > limits::kMaxDim)
      return op->emitOpError()
             << "block_size entries must be in [1, " << limits::kMaxDim
             << "], got " << shapeStr(*blockSize);
  auto nTy = cast<ShapedType>(numBlocks.getType());
  auto iTy = cast<ShapedType>(indices.getType());
  if (nTy.getRank() != 3)
    return op->emitOpError()
           << "kv_num_blocks must have rank 3 [B, H, Qblocks], got rank "
           << nTy.getRank();
  if (iTy.getRank() != 4)
    return op->emitOpError() << "kv_indices must have rank 4 [B, H, Qblocks, "
                                "maxBlocks], got rank "
                             << iTy.getRank();
  auto size = [](int64_t v) {
    return ShapedType::isDynamic(v) ? std::string("?") : std::to_string(v);
  };
  int64_t nb = nTy.getDimSize(0), nh = nTy.getDimSize(1);
  if (nb != 1 && !sizesAgree(nb, b))
    return op->emitOpError() << "kv_num_blocks batch dim " << size(nb)
                             << " must be 1 or the batch size " << size(b);
  if (nh != 1 && !sizesAgree(nh, hq))
    return op->emitOpError()
           << "kv_num_blocks head dim " << size(nh)
           << " must be 1 or the query head count " << size(hq);
  int64_t qBlocks = blockCount(sq, (*blockSize)[0]);
  if (!sizesAgree(nTy.getDimSize(2), qBlocks))
    return op->emitOpError()
           << "kv_num_blocks has " << size(nTy.getDimSize(2))
           << " query blocks but ceil(Sq / q_block) = ceil(" << size(sq)
           << " / " << (*blockSize)[0] << ") = " << size(qBlocks);
  for (unsigned d = 0; d < 3; ++d)
    if (!sizesAgree(iTy.getDimSize(d), nTy.getDimSize(d)))
      return op->emitOpError()
             << "kv_indices shape " << shapeStr(iTy.getShape())
             << " must start with kv_num_blocks' shape "
             << shapeStr(nTy.getShape());
  return success();
}
