//===- AttnOps.h - attn operations -----------------------------*- C++ -*-===//
#ifndef ATTN_DIALECT_ATTNOPS_H
#define ATTN_DIALECT_ATTNOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/AttnAttrs.h"
#include "dialect/AttnDialect.h"

#define GET_OP_CLASSES
#include "dialect/AttnOps.h.inc"

namespace mlir::attn {
/// Checks the rotary embedding of a cache op (AttnRope.cpp): `rope` comes
/// with the tables `cos` / `sin` `[max_pos, rotary_dim / 2]` (f32 or
/// `rowType`), `rotary_dim <= headDim` of the rotated `rows` ("key",
/// "query"), and a static `max_pos` covers a static `capacity`.
LogicalResult verifyRotary(Operation *op, Value cos, Value sin,
                           std::optional<RopeAttr> rope, StringRef rows,
                           Type rowType, int64_t headDim, int64_t capacity);
} // namespace mlir::attn

#endif
