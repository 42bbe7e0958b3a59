//===- GpuRunTimeChecks.h - cache ops' run-time size checks -*- C++ -*-===//
//
// What the GPU lowerings of the cache ops (GpuCacheOps.cpp, GpuMixed.cpp)
// check on the host for run-time sizes: cf.assert ops on memref.dim of the
// kernel buffers that the runtime evaluates per call before anything is
// launched (GpuRunTimeSizes.cpp). Internal to passes/.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_PASSES_GPURUNTIMECHECKS_H
#define ATTN_PASSES_GPURUNTIMECHECKS_H

#include "passes/IndexMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::attn::gpu_lowering {

/// The host-side checks and sizes of one cache op with run-time sizes.
struct RunTimeChecks {
  ImplicitLocOpBuilder &b;
  /// `dim` of `v` (a kernel buffer), folded to a constant when static.
  Value dim(Value v, int64_t d) { return memref::DimOp::create(b, v, d); }
  /// cf.assert(lhs `pred` rhs, message): the runtime reports the message
  /// with both sides' expressions and values.
  void check(arith::CmpIPredicate pred, Value lhs, Value rhs,
             const Twine &message) {
    Value ok = arith::CmpIOp::create(b, pred, lhs, rhs);
    cf::AssertOp::create(b, ok, message.str());
  }
  void equal(Value lhs, Value rhs, const Twine &message) {
    check(arith::CmpIPredicate::eq, lhs, rhs, message);
  }
  /// The checks of the K/V caches `kc`, `vc` (and the block table `table`
  /// of a paged one with pages of `pageSize`) against a batch of `batch`
  /// sequences and `len` new rows or queries; returns the capacity and the
  /// paged sizes the kernels take (page count and table width).
  struct CacheSizes {
    Value capacity;
    SmallVector<Value> paged;
  };
  CacheSizes cache(Value kc, Value vc, Value table, int64_t pageSize,
                   Value batch, Value len, const Twine &fits) {
    Value capacity;
    SmallVector<Value> paged;
    if (table) {
      equal(dim(table, 0), batch,
            "one block-table row per sequence of the batch");
      // Operands built in order: the IR does not depend on the compiler.
      Value vPages = dim(vc, 0), kPages = dim(kc, 0);
      equal(vPages, kPages, "the key and value pools have the same page count");
      IndexMath hm{b};
      capacity = hm.mul(dim(table, 1), pageSize);
      paged = {dim(kc, 0), dim(table, 1)};
    } else {
      equal(dim(kc, 0), batch, "the key cache holds the batch's slots");
      equal(dim(vc, 0), batch, "the value cache holds the batch's slots");
      Value vCap = dim(vc, 2), kCap = dim(kc, 2);
      equal(vCap, kCap, "the key and value caches have the same capacity");
      capacity = dim(kc, 2);
    }
    check(arith::CmpIPredicate::sle, len, capacity, fits);
    return {capacity, paged};
  }
};

/// The first dynamic-dim check of a cache op: the dims that must be static
/// (heads, head dims, page size) are.
inline LogicalResult requireStaticDims(Operation *op, ArrayRef<int64_t> dims,
                                       StringRef names) {
  if (llvm::any_of(dims, ShapedType::isDynamic))
    return op->emitOpError("attn-gpu-flash needs static ")
           << names
           << " (batch, the query or chunk length, the cache capacity and "
              "the page count may be `?`)";
  return success();
}

} // namespace mlir::attn::gpu_lowering

#endif
