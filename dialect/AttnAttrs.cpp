//===- AttnAttrs.cpp - attn attributes ------------------------------------===//
#include "dialect/AttnAttrs.h"
#include "dialect/AttnDialect.h"
#include "dialect/Limits.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/AttnAttrs.cpp.inc"

void AttnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/AttnAttrs.cpp.inc"
      >();
}

LogicalResult MaskAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               bool causal, int64_t qOffset, int64_t windowLeft,
                               int64_t windowRight, int64_t dilation,
                               int64_t globalTokens) {
  if (qOffset < 0)
    return emitError() << "mask q_offset must be >= 0, got " << qOffset;
  if (windowLeft < -1)
    return emitError() << "mask window_left must be >= 0 or -1 (unbounded), "
                          "got "
                       << windowLeft;
  if (windowRight < -1)
    return emitError() << "mask window_right must be >= 0 or -1 (unbounded), "
                          "got "
                       << windowRight;
  if (causal && windowRight > 0)
    return emitError() << "causal mask cannot look ahead: window_right must "
                          "be 0 or -1, got "
                       << windowRight;
  if (dilation < 1)
    return emitError() << "mask dilation must be >= 1, got " << dilation;
  if (globalTokens < 0)
    return emitError() << "mask global_tokens must be >= 0, got "
                       << globalTokens;
  // Positions, distances and these bounds are i32 in the CPU mask code.
  for (auto [name, v] : {std::pair{"q_offset", qOffset},
                         {"window_left", windowLeft},
                         {"window_right", windowRight},
                         {"dilation", dilation},
                         {"global_tokens", globalTokens}})
    if (v > limits::kMaxMaskParam)
      return emitError() << "mask " << name << " " << v
                         << " exceeds the limit of " << limits::kMaxMaskParam;
  return success();
}
