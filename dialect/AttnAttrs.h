//===- AttnAttrs.h - attn attributes ---------------------------*- C++ -*-===//
#ifndef ATTN_DIALECT_ATTNATTRS_H
#define ATTN_DIALECT_ATTNATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dialect/MaskSpec.h"

#include "dialect/AttnEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.h.inc"

#endif
