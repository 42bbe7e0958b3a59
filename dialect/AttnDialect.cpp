//===- AttnDialect.cpp - the attn dialect ---------------------------------===//
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

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
