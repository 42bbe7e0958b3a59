//===- AttnDialect.cpp - the attn dialect ---------------------------------===//
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnDialect.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/AttnOps.cpp.inc"
      >();
  registerAttributes();
}

namespace {

/// Checks one discardable attribute: its value has type `AttrT` and it sits
/// on an op of one of `OpTs`; `what` names those ops for the message.
template <typename AttrT, typename... OpTs>
LogicalResult checkPlacement(Operation *op, NamedAttribute attr, StringRef type,
                             StringRef what) {
  if (!isa<AttrT>(attr.getValue()))
    return op->emitError() << "'" << attr.getName().strref() << "' must be "
                           << type << ", got " << attr.getValue();
  if (!isa<OpTs...>(op))
    return op->emitError() << "'" << attr.getName().strref() << "' belongs on "
                           << what << ", not on '" << op->getName() << "'";
  return success();
}

/// A tile loop's key count: a positive i64.
LogicalResult checkTileSize(Operation *op, NamedAttribute attr) {
  if (failed(checkPlacement<IntegerAttr, scf::ForOp>(
          op, attr, "an i64 tile size", "an scf.for over tiles")))
    return failure();
  auto size = cast<IntegerAttr>(attr.getValue());
  if (!size.getType().isInteger(64) || size.getInt() < 1)
    return op->emitError() << "'" << attr.getName().strref()
                           << "' must be a positive i64 tile size, got "
                           << size;
  return success();
}

LogicalResult checkTensorMapBox(Operation *op, StringRef name,
                                TensorMapAttr map, int64_t elementBytes);

/// `attn.tensor_map` on the `memref<16xi64>` allocation that holds the
/// map, in a function whose argument `source` is the f16/bf16 buffer the
/// map reads, all of whose described bytes that buffer holds.
LogicalResult verifyTensorMapPlacement(Operation *op, NamedAttribute attr) {
  if (failed(checkPlacement<TensorMapAttr, memref::AllocOp>(
          op, attr, "an #attn.tensor_map", "the memref.alloc of a tensor map")))
    return failure();
  StringRef name = attr.getName().strref();
  auto map = cast<TensorMapAttr>(attr.getValue());
  MemRefType t = cast<memref::AllocOp>(op).getType();
  if (t.getShape() != ArrayRef<int64_t>{16} ||
      !t.getElementType().isInteger(64) || !t.getLayout().isIdentity() ||
      t.getMemorySpace())
    return op->emitError() << "'" << name
                           << "': a tensor map is memref<16xi64> (128 "
                              "bytes), not "
                           << t;
  auto func = op->getParentOfType<func::FuncOp>();
  if (!func || map.getSource() >= int64_t(func.getNumArguments()))
    return op->emitError() << "'" << name << "': source " << map.getSource()
                           << " is not an argument of the enclosing function";
  auto source =
      dyn_cast<MemRefType>(func.getArgument(map.getSource()).getType());
  // Entries of 0 are run-time sizes: the runtime encodes the map from the
  // source's shape at launch, so only a source of run-time shape has them.
  bool runTime = llvm::is_contained(map.getDims().asArrayRef(), 0) ||
                 llvm::is_contained(map.getStrides().asArrayRef(), 0);
  if (!source || source.hasStaticShape() == runTime ||
      !(source.getElementType().isF16() || source.getElementType().isBF16()))
    return op->emitError() << "'" << name << "': source " << map.getSource()
                           << " is "
                           << func.getArgument(map.getSource()).getType()
                           << "; tensor maps read f16 or bf16 memrefs, "
                              "static unless the map has run-time (0) "
                              "entries";
  int64_t elementBytes = 2;
  if (runTime)
    return checkTensorMapBox(op, name, map, elementBytes);
  // The last byte the map can address must lie inside the source.
  uint64_t extent =
      elementBytes + uint64_t(map.getDims()[0] - 1) * uint64_t(elementBytes);
  for (auto [d, s] : llvm::zip(map.getDims().asArrayRef().drop_front(),
                               map.getStrides().asArrayRef()))
    extent += uint64_t(d - 1) * uint64_t(s);
  uint64_t sourceBytes = uint64_t(source.getNumElements()) * elementBytes;
  if (extent > sourceBytes)
    return op->emitError() << "'" << name << "' describes " << extent
                           << " bytes of source " << map.getSource()
                           << ", which holds " << sourceBytes;
  return checkTensorMapBox(op, name, map, elementBytes);
}

/// The inner box row of `map` fits the copy engine and its swizzle span.
LogicalResult checkTensorMapBox(Operation *op, StringRef name,
                                TensorMapAttr map, int64_t elementBytes) {
  int64_t innerBytes = map.getBox()[0] * elementBytes;
  if (innerBytes % 16)
    return op->emitError() << "'" << name << "': the inner box dimension is "
                           << innerBytes << " bytes, not a multiple of 16";
  if (map.getSwizzle() && innerBytes > map.getSwizzle())
    return op->emitError() << "'" << name << "': the inner box dimension is "
                           << innerBytes << " bytes, more than the "
                           << map.getSwizzle() << "-byte swizzle span";
  return success();
}

} // namespace

LogicalResult AttnDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().strref();
  if (name == WorkItemsAttrHelper::getNameStr()) {
    if (failed(checkPlacement<UnitAttr, scf::ForallOp>(
            op, attr, "a unit attribute", "the scf.forall of work items")))
      return failure();
    auto forall = cast<scf::ForallOp>(op);
    if (forall.getRank() != 1)
      return op->emitError()
             << "'" << name << "' marks a 1-D scf.forall, not rank "
             << forall.getRank();
    // The bound is the item count the runtime splits into ranges.
    if (!isConstantIntValue(forall.getMixedLowerBound()[0], 0) ||
        !isConstantIntValue(forall.getMixedStep()[0], 1))
      return op->emitError()
             << "'" << name << "' marks a loop over [0, items) in steps of 1";
    return success();
  }
  if (name == KvTileLoopAttrHelper::getNameStr() ||
      name == QTileLoopAttrHelper::getNameStr())
    return checkTileSize(op, attr);
  if (name == MaskAwareAttrHelper::getNameStr()) {
    if (failed(checkPlacement<UnitAttr, scf::ForOp>(
            op, attr, "a unit attribute", "a tile loop (scf.for)")))
      return failure();
    if (!op->hasAttr(KvTileLoopAttrHelper::getNameStr()) &&
        !op->hasAttr(QTileLoopAttrHelper::getNameStr()))
      return op->emitError()
             << "'" << name << "' marks a tile loop: the scf.for needs '"
             << KvTileLoopAttrHelper::getNameStr() << "' or '"
             << QTileLoopAttrHelper::getNameStr() << "'";
    return success();
  }
  if (name == SplitScratchAttrHelper::getNameStr()) {
    if (failed(checkPlacement<IntegerAttr, memref::AllocOp>(
            op, attr, "the i64 bytes per work item",
            "the memref.alloc of the split-KV scratch")))
      return failure();
    if (cast<IntegerAttr>(attr.getValue()).getInt() < 1)
      return op->emitError()
             << "'" << name << "' must be a positive byte count, got "
             << attr.getValue();
    return success();
  }
  if (name == SplitScratchUseAttrHelper::getNameStr())
    return checkPlacement<UnitAttr, memref::DeallocOp,
                          DestinationStyleOpInterface>(
        op, attr, "a unit attribute",
        "the dealloc or the counter fill of the split-KV scratch");
  if (name == RaisedAttrHelper::getNameStr())
    return checkPlacement<StringAttr, AttentionOp>(
        op, attr, "a string (the softmax form raised)", "attn.attention");
  if (name == TensorMapAttrHelper::getNameStr())
    return verifyTensorMapPlacement(op, attr);
  return op->emitError() << "'" << name
                         << "' is not an attribute of the attn dialect";
}
