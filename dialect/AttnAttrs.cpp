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

LogicalResult
TensorMapAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      int64_t source, DenseI64ArrayAttr dims,
                      DenseI64ArrayAttr strides, DenseI64ArrayAttr box,
                      int64_t swizzle) {
  // The limits of cuTensorMapEncodeTiled (CUDA 12 driver API).
  if (source < 0)
    return emitError() << "tensor_map source must be a kernel argument "
                          "number >= 0, got "
                       << source;
  int64_t rank = dims.size();
  if (rank < 1 || rank > 5)
    return emitError() << "tensor_map rank " << rank << " is not 1 to 5";
  if (strides.size() != rank - 1 || box.size() != rank)
    return emitError() << "tensor_map of rank " << rank << " needs " << rank - 1
                       << " strides and " << rank << " box sizes, not "
                       << strides.size() << " and " << box.size();
  // 0 in dims or strides: a run-time size, which the runtime takes from
  // the source buffer at launch (and checks there).
  for (int64_t d : dims.asArrayRef())
    if (d < 0 || d > (int64_t(1) << 32))
      return emitError() << "tensor_map dims entry " << d
                         << " is not 1 to 2^32 (or 0: from the source at "
                            "launch)";
  for (int64_t b : box.asArrayRef())
    if (b < 1 || b > 256)
      return emitError() << "tensor_map box entry " << b << " is not 1 to 256";
  for (auto [i, s] : llvm::enumerate(strides.asArrayRef()))
    if (s < 0 || s % 16 || s >= (int64_t(1) << 40))
      return emitError() << "tensor_map stride " << s << " (dim " << i + 1
                         << ") is not a positive multiple of 16 bytes below "
                            "2^40 (or 0: from the source at launch)";
  if (!llvm::is_contained({0, 32, 64, 128}, swizzle))
    return emitError() << "tensor_map swizzle " << swizzle
                       << " is not 0, 32, 64 or 128 bytes";
  return success();
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               RopeStyle style, int64_t rotaryDim) {
  // Pairs need an even count of dims; the head-dim bound is the ops' check.
  if (rotaryDim <= 0 || rotaryDim % 2 != 0)
    return emitError() << "rope rotary_dim must be even and positive, got "
                       << rotaryDim;
  if (rotaryDim > limits::kMaxHeadDim)
    return emitError() << "rope rotary_dim " << rotaryDim
                       << " exceeds the head-dim limit of "
                       << limits::kMaxHeadDim;
  return success();
}
