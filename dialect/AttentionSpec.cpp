//===- AttentionSpec.cpp - build attn.attention from a plain spec ---------===//
#include "dialect/AttentionSpec.h"
#include "dialect/BlockMask.h"
#include "dialect/Limits.h"

#include "mlir/IR/BuiltinOps.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

using namespace mlir;
using namespace mlir::attn;

const char *mlir::attn::stringifyElementType(ElementType t) {
  switch (t) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  }
  return "?";
}

std::optional<ElementType> mlir::attn::parseElementType(StringRef s) {
  if (s == "f32")
    return ElementType::F32;
  if (s == "f16")
    return ElementType::F16;
  if (s == "bf16")
    return ElementType::BF16;
  return std::nullopt;
}

int64_t mlir::attn::elementBytes(ElementType t) {
  return t == ElementType::F32 ? 4 : 2;
}

Type mlir::attn::getElementType(MLIRContext *ctx, ElementType t) {
  Builder b(ctx);
  switch (t) {
  case ElementType::F32:
    return b.getF32Type();
  case ElementType::F16:
    return b.getF16Type();
  case ElementType::BF16:
    return b.getBF16Type();
  }
  return {};
}

std::string AttentionSpec::validate() const {
  std::ostringstream os;
  // Zero batch, heads or lengths are valid: an empty output, or (Skv = 0)
  // rows that see nothing.
  auto inRange = [&](const char *name, int64_t v, int64_t lo, int64_t hi) {
    if ((v < lo || v > hi) && os.tellp() == 0)
      os << name << " must be in [" << lo << ", " << hi << "], got " << v;
  };
  auto size = [&](const char *name, int64_t v) {
    if (v != kDynamicSize)
      inRange(name, v, 0, limits::kMaxDim);
  };
  size("batch", batch);
  inRange("heads", numHeads, 0, limits::kMaxDim);
  inRange("kv heads", numKvHeads, 1, limits::kMaxDim);
  size("query length", queryLen);
  size("kv length", kvLen);
  inRange("head dim", headDim, 1, limits::kMaxHeadDim);
  inRange("value dim", valueDim, 0, limits::kMaxHeadDim);
  inRange("query heads per kv head", numKvHeads > 0 ? numHeads / numKvHeads : 0,
          0, limits::kMaxGroup);
  // With a run-time Sq this is checked per call (withSizes + validate).
  int64_t lastPosition;
  if (queryLen == kDynamicSize)
    lastPosition = 0;
  else if (__builtin_add_overflow(mask.qOffset, queryLen, &lastPosition))
    lastPosition = std::numeric_limits<int64_t>::max();
  inRange("mask offset + query length", lastPosition, 0, limits::kMaxMaskParam);
  if (os.tellp() != 0)
    return os.str();
  for (const auto &shape : {queryShape(), keyShape(), valueShape()}) {
    int64_t n = 1;
    for (int64_t d : shape)
      if (d != kDynamicSize &&
          (__builtin_mul_overflow(n, d, &n) || n > limits::kMaxElements))
        return "more than " + std::to_string(limits::kMaxElements) +
               " elements in one tensor";
  }
  if (numHeads % numKvHeads != 0)
    return "query heads (" + std::to_string(numHeads) +
           ") must be a multiple of kv heads (" + std::to_string(numKvHeads) +
           ")";
  if (mask.qOffset < 0)
    return "mask offset must be >= 0";
  if (mask.windowLeft < -1 || mask.windowRight < -1)
    return "window bounds must be >= 0 or -1 (unbounded)";
  if (mask.causal && mask.windowRight > 0)
    return "a causal mask cannot have a look-ahead window (window right > 0)";
  if (mask.dilation < 1)
    return "dilation must be >= 1";
  if (mask.globalTokens < 0)
    return "global tokens must be >= 0";
  for (int64_t v : {mask.qOffset, mask.windowLeft, mask.windowRight,
                    mask.dilation, mask.globalTokens})
    if (v > limits::kMaxMaskParam)
      return "mask parameters must be at most " +
             std::to_string(limits::kMaxMaskParam) + ", got " +
             std::to_string(v);
  if (scale && !std::isfinite(*scale))
    return "scale must be finite";
  if (scale && (*scale == 0 || std::fabs(*scale) > limits::kMaxScale))
    return "scale must be nonzero with magnitude at most 65536";
  if (softcap && (!std::isfinite(*softcap) || *softcap <= 0))
    return "softcap must be finite and > 0";
  if (dropout && !(*dropout >= 0 && *dropout < 1))
    return "dropout must be in [0, 1)";
  if (blockSparse) {
    const BlockSparseSpec &bs = *blockSparse;
    if (bs.qBlock < 1 || bs.kvBlock < 1 || bs.qBlock > limits::kMaxDim ||
        bs.kvBlock > limits::kMaxDim)
      return "block sizes must be in [1, " + std::to_string(limits::kMaxDim) +
             "]";
    if (bs.maxBlocks < 0 || bs.maxBlocks > limits::kMaxDim)
      return "max blocks must be in [0, " + std::to_string(limits::kMaxDim) +
             "]";
  }
  return "";
}

std::string AttentionSpec::key() const {
  std::ostringstream os;
  os.precision(9); // enough digits to round-trip any float

  auto size = [](int64_t v) {
    return v == kDynamicSize ? std::string("?") : std::to_string(v);
  };
  os << "gqa:b=" << size(batch) << ",hq=" << numHeads << ",hkv=" << numKvHeads
     << ",sq=" << size(queryLen) << ",skv=" << size(kvLen) << ",d=" << headDim;
  if (valueDim)
    os << ",dv=" << valueDim;
  os << ",dtype=" << stringifyElementType(dtype)
     << ",layout=" << (layout == Layout::BHSD ? "bhsd" : "bshd");
  if (mask.causal)
    os << ",causal";
  if (mask.qOffset)
    os << ",offset=" << mask.qOffset;
  if (mask.hasWindow())
    os << ",window=" << mask.windowLeft << ":" << mask.windowRight;
  if (mask.dilation != 1)
    os << ",dilation=" << mask.dilation;
  if (mask.globalTokens)
    os << ",global=" << mask.globalTokens;
  if (scale)
    os << ",scale=" << *scale;
  if (softcap)
    os << ",softcap=" << *softcap;
  if (withKvLengths)
    os << ",ragged";
  if (returnLse)
    os << ",lse";
  if (withSinks)
    os << ",sinks";
  if (blockSparse) {
    os << ",blocks=" << blockSparse->qBlock << ":" << blockSparse->kvBlock;
    if (blockSparse->perHead)
      os << ":head";
    if (blockSparse->perBatch)
      os << ":batch";
    if (blockSparse->maxBlocks)
      os << ":max" << blockSparse->maxBlocks;
  }
  if (dropout) {
    // The shortest form that reads back as the same double (0.1, not
    // 0.10000000000000001).
    std::string text;
    for (int digits = 1; digits <= 17; ++digits) {
      std::ostringstream p;
      p.precision(digits);
      p << *dropout;
      text = p.str();
      if (std::strtod(text.c_str(), nullptr) == *dropout)
        break;
    }
    os << ",dropout=" << text;
  }
  return os.str();
}

bool AttentionSpec::hasDynamicSizes() const {
  return batch == kDynamicSize || queryLen == kDynamicSize ||
         kvLen == kDynamicSize;
}

AttentionSpec AttentionSpec::withRunTimeSizes() const {
  AttentionSpec s = *this;
  s.batch = kDynamicSize;
  s.kvLen = kDynamicSize;
  if (queryLen != 1)
    s.queryLen = kDynamicSize;
  return s;
}

AttentionSpec AttentionSpec::withSizes(int64_t b, int64_t sq,
                                       int64_t skv) const {
  AttentionSpec s = *this;
  if (s.batch == kDynamicSize)
    s.batch = b;
  if (s.queryLen == kDynamicSize)
    s.queryLen = sq;
  if (s.kvLen == kDynamicSize)
    s.kvLen = skv;
  return s;
}

static SmallVector<int64_t, 4> physical(Layout layout, int64_t b, int64_t h,
                                        int64_t s, int64_t d) {
  if (layout == Layout::BSHD)
    return {b, s, h, d};
  return {b, h, s, d};
}

SmallVector<int64_t, 4> AttentionSpec::queryShape() const {
  return physical(layout, batch, numHeads, queryLen, headDim);
}
SmallVector<int64_t, 4> AttentionSpec::keyShape() const {
  return physical(layout, batch, numKvHeads, kvLen, headDim);
}
SmallVector<int64_t, 4> AttentionSpec::valueShape() const {
  return physical(layout, batch, numKvHeads, kvLen, effectiveValueDim());
}
SmallVector<int64_t, 4> AttentionSpec::outputShape() const {
  return physical(layout, batch, numHeads, queryLen, effectiveValueDim());
}

SmallVector<int64_t, 4> AttentionSpec::numBlocksShape() const {
  const BlockSparseSpec &bs = *blockSparse;
  return {bs.perBatch ? batch : 1, bs.perHead ? numHeads : 1,
          blockCount(queryLen, bs.qBlock)};
}
SmallVector<int64_t, 4> AttentionSpec::blockIndicesShape() const {
  SmallVector<int64_t, 4> shape = numBlocksShape();
  shape.push_back(blockSparse->maxBlocks
                      ? blockSparse->maxBlocks
                      : blockCount(kvLen, blockSparse->kvBlock));
  return shape;
}

/// Keys in [0, kvLen) row `i` (absolute position) may see, in O(1) unless
/// global tokens are involved.
static int64_t visibleKeys(const MaskSpec &m, int64_t i, int64_t kvLen) {
  if (m.globalTokens > 0) {
    int64_t n = 0;
    for (int64_t j = 0; j < kvLen; ++j)
      n += m.allows(i, j);
    return n;
  }
  int64_t lo = 0, hi = kvLen - 1;
  if (m.windowLeft >= 0)
    lo = std::max(lo, i - m.windowLeft);
  if (m.causal)
    hi = std::min(hi, i);
  if (m.windowRight >= 0)
    hi = std::min(hi, i + m.windowRight);
  if (hi < lo)
    return 0;
  if (m.dilation == 1)
    return hi - lo + 1;
  // j in [lo, hi] with (i - j) % d == 0: distances i-hi .. i-lo.
  auto floorDiv = [](int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
  };
  int64_t d = m.dilation;
  return floorDiv(i - lo, d) - floorDiv(i - hi - 1, d);
}

double AttentionSpec::flops() const {
  // Block-sparse: the visible pairs depend on the block lists.
  if (hasDynamicSizes() || blockSparse)
    return 0;
  double visible = 0;
  if (mask.isTrivial()) {
    visible = double(queryLen) * double(kvLen);
  } else {
    for (int64_t q = 0; q < queryLen; ++q)
      visible += visibleKeys(mask, q + mask.qOffset, kvLen);
  }
  return 2.0 * visible * double(headDim + effectiveValueDim()) *
         double(batch * numHeads);
}

FailureOr<func::FuncOp>
mlir::attn::buildAttentionFunc(OpBuilder &builder, Location loc,
                               const AttentionSpec &spec, StringRef name) {
  if (std::string err = spec.validate(); !err.empty())
    return emitError(loc) << "invalid attention spec: " << err;
  MLIRContext *ctx = builder.getContext();
  Type elt = getElementType(ctx, spec.dtype);
  auto tensor = [&](ArrayRef<int64_t> shape, Type t) {
    return RankedTensorType::get(shape, t);
  };
  SmallVector<Type> inputs = {tensor(spec.queryShape(), elt),
                              tensor(spec.keyShape(), elt),
                              tensor(spec.valueShape(), elt)};
  if (spec.withKvLengths)
    inputs.push_back(tensor({spec.batch}, builder.getI32Type()));
  if (spec.withSinks)
    inputs.push_back(tensor({spec.numHeads}, builder.getF32Type()));
  if (spec.dropout)
    inputs.push_back(tensor({2}, builder.getI64Type()));
  if (spec.blockSparse) {
    inputs.push_back(tensor(spec.numBlocksShape(), builder.getI32Type()));
    inputs.push_back(tensor(spec.blockIndicesShape(), builder.getI32Type()));
  }
  Type outTy = tensor(spec.outputShape(), elt);
  Type lseTy =
      tensor({spec.batch, spec.numHeads, spec.queryLen}, builder.getF32Type());
  SmallVector<Type> results = {outTy};
  if (spec.returnLse)
    results.push_back(lseTy);

  auto func = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(inputs, results));
  Block *body = func.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(body);

  auto args = body->getArguments();
  Value kvLengths = spec.withKvLengths ? args[3] : Value();
  // Optional operands in order: kv_lengths, sinks, dropout, block mask.
  size_t next = spec.withKvLengths ? 4 : 3;
  auto take = [&](bool present) { return present ? args[next++] : Value(); };
  Value sinks = take(spec.withSinks);
  Value dropoutState = take(spec.dropout.has_value());
  Value numBlocks = take(spec.blockSparse.has_value());
  Value blockIndices = take(spec.blockSparse.has_value());
  auto op = AttentionOp::create(
      builder, loc, outTy, spec.returnLse ? lseTy : Type(), args[0], args[1],
      args[2], /*bool_mask=*/Value(), /*bias=*/Value(), kvLengths,
      /*q_segment_ids=*/Value(), /*kv_segment_ids=*/Value(), sinks,
      dropoutState, numBlocks, blockIndices,
      spec.scale ? builder.getF32FloatAttr(*spec.scale) : FloatAttr(),
      spec.softcap ? builder.getF32FloatAttr(*spec.softcap) : FloatAttr(),
      spec.mask.isTrivial() ? MaskAttr() : MaskAttr::get(ctx, spec.mask),
      spec.layout == Layout::BHSD ? LayoutAttr()
                                  : LayoutAttr::get(ctx, spec.layout),
      spec.dropout ? builder.getF64FloatAttr(*spec.dropout) : FloatAttr(),
      spec.blockSparse
          ? builder.getDenseI64ArrayAttr(
                {spec.blockSparse->qBlock, spec.blockSparse->kvBlock})
          : DenseI64ArrayAttr());
  func::ReturnOp::create(builder, loc, op->getResults());
  return func;
}
