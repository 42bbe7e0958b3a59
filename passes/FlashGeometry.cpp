//===- FlashGeometry.cpp - sizes and tiling of the CPU flash form ---------===//
//
// The tiles of a flash problem are chosen from its static sizes; sizes
// known only at run time (batch, query length, KV capacity) take the tile
// a long sequence would get, and the KV-split count is then computed in
// the kernel by the same cost model (kvSplitModel) the static path folds.
//
//===----------------------------------------------------------------------===//
#include "dialect/Limits.h"
#include "passes/FlashEmitter.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kPad = 16;    // tile widths are padded to whole vectors
constexpr int64_t kRowPad = 8;  // query rows: half vectors suffice (decode)
constexpr int64_t kMinRows = 4; // ... and quarter vectors up to 4 rows

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

bool dynamic(int64_t v) { return ShapedType::isDynamic(v); }

} // namespace

MemRefType mlir::attn::stridedMemRefType(MLIRContext *ctx,
                                         ArrayRef<int64_t> shape, Type elt,
                                         bool unitInner) {
  SmallVector<int64_t> strides(shape.size(), ShapedType::kDynamic);
  if (unitInner)
    strides.back() = 1;
  return MemRefType::get(
      shape, elt, StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}

Value mlir::attn::tensorAsBuffer(ImplicitLocOpBuilder &b, Value tensor,
                                 bool unitInner) {
  if (!tensor)
    return {};
  auto ty = cast<RankedTensorType>(tensor.getType());
  auto memTy = stridedMemRefType(b.getContext(), ty.getShape(),
                                 ty.getElementType(), unitInner);
  return bufferization::ToBufferOp::create(b, memTy, tensor,
                                           /*read_only=*/true);
}

Value mlir::attn::logicalView(ImplicitLocOpBuilder &b, Value buffer,
                              Layout layout) {
  if (layout != Layout::BSHD)
    return buffer;
  auto perm = AffineMap::getPermutationMap(ArrayRef<unsigned>{0, 2, 1, 3},
                                           b.getContext());
  return memref::TransposeOp::create(b, buffer, AffineMapAttr::get(perm));
}

Value mlir::attn::resultBuffer(
    ImplicitLocOpBuilder &b, Operation *op, Value result, bool unitInner,
    llvm::function_ref<SmallVector<Value>()> dynSizes,
    SmallVectorImpl<Operation *> &toErase) {
  auto ty = cast<RankedTensorType>(result.getType());
  if (result.hasOneUse()) {
    auto mat = dyn_cast<bufferization::MaterializeInDestinationOp>(
        *result.getUsers().begin());
    if (mat && isa<BaseMemRefType>(mat.getDest().getType())) {
      toErase.push_back(mat);
      Value dest = mat.getDest();
      auto want = stridedMemRefType(b.getContext(), ty.getShape(),
                                    ty.getElementType(), unitInner);
      if (dest.getType() != want)
        dest = memref::CastOp::create(b, want, dest);
      return dest;
    }
  }
  auto alloc = memref::AllocOp::create(
      b, MemRefType::get(ty.getShape(), ty.getElementType()), dynSizes());
  // Written in place; the tensor view is what the rest sees.
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(op);
  auto t = bufferization::ToTensorOp::create(b, ty, alloc, /*restrict=*/true,
                                             /*writable=*/true);
  result.replaceAllUsesWith(t.getResult());
  return alloc;
}

Value mlir::attn::rankReducedView(ImplicitLocOpBuilder &b, Value source,
                                  ArrayRef<OpFoldResult> offsets,
                                  ArrayRef<OpFoldResult> sizes,
                                  ArrayRef<int64_t> resultShape) {
  auto srcTy = cast<MemRefType>(source.getType());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  auto resultTy = memref::SubViewOp::inferRankReducedResultType(
      resultShape, srcTy, offsets, sizes, strides);
  return memref::SubViewOp::create(b, cast<MemRefType>(resultTy), source,
                                   offsets, sizes, strides);
}

int64_t FlashGeometry::workItems() const {
  if (dynamic(batch) || dynamic(qBlocks) || dynamic(splits))
    return ShapedType::kDynamic;
  return batch * kvHeads * qBlocks * splits;
}

bool FlashGeometry::isDynamic() const {
  return dynamic(batch) || dynamic(qLen) || dynamic(kvCapacity) ||
         dynamic(qBlocks) || dynamic(splits);
}

int64_t mlir::attn::chooseKvSplits(int64_t baseItems, int64_t kvCapacity,
                                   int64_t parallelism) {
  return kvSplitModel(IntMath{}, baseItems, kvCapacity, parallelism);
}

FailureOr<FlashGeometry> mlir::attn::chooseFlashGeometry(
    int64_t batch, int64_t heads, int64_t kvHeads, int64_t qLen,
    int64_t headDim, int64_t valueDim, int64_t kvCapacity, int64_t pageSize,
    int64_t tileRows, int64_t tileKv, int64_t kvSplits, int64_t parallelism,
    std::string &error) {
  // Tiles stay within the tile ops' verifier limit (limits::kMaxTileDim).
  const std::string most = std::to_string(limits::kMaxTileDim);
  if (tileKv <= 0 || tileKv % kPad != 0 || tileKv > limits::kMaxTileDim) {
    error = "tile-kv must be a positive multiple of " + std::to_string(kPad) +
            " up to " + most + ", got " + std::to_string(tileKv);
    return failure();
  }
  if (tileRows <= 0 || tileRows > limits::kMaxTileDim) {
    error = "tile-rows must be in [1, " + most + "], got " +
            std::to_string(tileRows);
    return failure();
  }
  FlashGeometry g;
  g.batch = batch;
  g.heads = heads;
  g.kvHeads = kvHeads;
  g.qLen = qLen;
  g.headDim = headDim;
  g.valueDim = valueDim;
  g.kvCapacity = kvCapacity;
  g.parallelism = parallelism;
  // Zero batch, heads or queries: no work items. Zero keys: one (empty)
  // tile width, no KV tiles, rows that see nothing. A run-time length
  // gets the tiles of a long one.
  g.group = heads / kvHeads;
  int64_t qCap = dynamic(qLen) ? tileRows : std::max<int64_t>(qLen, 1);
  g.tq = std::clamp<int64_t>(tileRows / std::max<int64_t>(g.group, 1), 1, qCap);
  g.rows = g.group * g.tq;
  g.rowsPad = g.rows <= kMinRows ? kMinRows : roundUp(g.rows, kRowPad);
  g.tk = dynamic(kvCapacity)
             ? tileKv
             : std::max(kPad, std::min(tileKv, roundUp(kvCapacity, kPad)));
  if (pageSize > 0) {
    // A KV tile is whole pages, or a whole fraction of one page.
    if (pageSize <= g.tk && g.tk % pageSize != 0) {
      error = "page size " + std::to_string(pageSize) +
              " must divide tile-kv (" + std::to_string(g.tk) + ")";
      return failure();
    }
    if (pageSize > g.tk && pageSize % g.tk != 0) {
      error = "page size " + std::to_string(pageSize) +
              " must be a multiple of tile-kv (" + std::to_string(g.tk) + ")";
      return failure();
    }
  }
  g.dvPad = roundUp(valueDim, kPad);
  if (g.group == 0)
    g.qBlocks = 0;
  else
    g.qBlocks = dynamic(qLen) ? ShapedType::kDynamic : (qLen + g.tq - 1) / g.tq;
  g.splits = 1;
  int64_t baseItems = g.workItems();
  if (kvSplits > 0)
    g.splits = kvSplits;
  else if (dynamic(baseItems) || dynamic(kvCapacity))
    g.splits = ShapedType::kDynamic;
  else
    g.splits = chooseKvSplits(baseItems, kvCapacity, parallelism);
  return g;
}

SplitScratchLayout mlir::attn::splitScratchLayout(const FlashGeometry &g) {
  return {/*counterBytes=*/64, /*lseBytes=*/roundUp(g.rowsPad * 4, 64),
          /*outBytes=*/g.rowsPad * g.dvPad * 4};
}

bool FlashGeometry::dotProductScores() const { return rowsPad <= kRowPad; }

bool FlashGeometry::readsInPlace() const {
  // A K/V element is used once per decode item, so a pack is a copy the
  // matmuls could have read. Prefill reuses each packed row across many
  // query rows.
  return dotProductScores() && headDim % kPad == 0 && valueDim % kPad == 0;
}

FlashSizes mlir::attn::materializeSizes(ImplicitLocOpBuilder &b,
                                        const FlashGeometry &g,
                                        const FlashProblem &p) {
  IndexMath im{b};
  auto size = [&](int64_t v, Value buffer, int64_t dim) -> OpFoldResult {
    if (!dynamic(v))
      return b.getIndexAttr(v);
    return memref::DimOp::create(b, buffer, dim).getResult();
  };
  FlashSizes s;
  s.batch = size(g.batch, p.query, 0);
  s.qLen = size(g.qLen, p.query, 2);
  if (p.blockTable) {
    s.tableSlots = size(cast<MemRefType>(p.blockTable.getType()).getDimSize(1),
                        p.blockTable, 1);
    s.kvCapacity = dynamic(g.kvCapacity)
                       ? im.mul(s.tableSlots, im.size(p.pageSize))
                       : im.size(g.kvCapacity);
  } else {
    s.kvCapacity = size(g.kvCapacity, p.key, 2);
  }
  s.qBlocks = dynamic(g.qBlocks) ? im.ceilDiv(s.qLen, im.size(g.tq))
                                 : im.size(g.qBlocks);
  OpFoldResult base = im.mul(im.mul(s.batch, im.size(g.kvHeads)), s.qBlocks);
  s.splits = dynamic(g.splits)
                 ? kvSplitModel(im, base, s.kvCapacity, g.parallelism)
                 : im.size(g.splits);
  s.items = im.mul(base, s.splits);
  return s;
}
