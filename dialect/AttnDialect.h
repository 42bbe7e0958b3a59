//===- AttnDialect.h - the attn dialect ------------------------*- C++ -*-===//
#ifndef ATTN_DIALECT_ATTNDIALECT_H
#define ATTN_DIALECT_ATTNDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/Operation.h"

#include "dialect/AttnAttrs.h"

#include "dialect/AttnDialect.h.inc"

#endif
