//===- AttnOps.cpp - attn operations: verifiers and helpers ---------------===//
#include "dialect/AttnOps.h"
#include "dialect/BlockMask.h"
#include "dialect/Limits.h"
#include "dialect/VerifyUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::verify;

namespace mlir::attn::verify {

/// Logical [B, H, S, D] of a rank-4 shape in `layout`.
SmallVector<int64_t, 4> toLogical(ArrayRef<int64_t> shape, Layout layout) {
  SmallVector<int64_t, 4> s(shape);
  if (layout == Layout::BSHD && s.size() == 4)
    std::swap(s[1], s[2]);
  return s;
}

/// Physical shape of logical [B, H, S, D] in `layout`.
SmallVector<int64_t, 4> toPhysical(ArrayRef<int64_t> logical, Layout layout) {
  return toLogical(logical, layout); // the permutation is its own inverse
}

LogicalResult checkRank4(Operation *op, StringRef name, ShapedType type,
                         StringRef meaning) {
  if (type.getRank() != 4)
    return op->emitOpError() << name << " must have rank 4 " << meaning
                             << ", got rank " << type.getRank();
  return success();
}

LogicalResult checkSameElementType(Operation *op, StringRef name, Type got,
                                   StringRef refName, Type ref) {
  if (got != ref)
    return op->emitOpError()
           << name << " element type " << got << " differs from " << refName
           << " element type " << ref;
  return success();
}

/// Shape checks shared by the two cache ops: the cache pair against batch
/// size `b`, K/V heads `hkv`, head dims `d` / `dv`.
LogicalResult checkCaches(Operation *op, ShapedType kc, ShapedType vc,
                          Value blockTable, std::optional<PageLayout> layout,
                          int64_t b, int64_t hkv, int64_t d, int64_t dv) {
  if (failed(checkSameElementType(op, "value_cache", vc.getElementType(),
                                  "key_cache", kc.getElementType())))
    return failure();
  if (layout && !blockTable)
    return op->emitOpError("page_layout applies only to paged caches (with "
                           "a block_table)");
  if (!blockTable) {
    const char *meaning = "[B, Hkv, Smax, D] (contiguous cache)";
    if (failed(checkRank4(op, "key_cache", kc, meaning)) ||
        failed(checkRank4(op, "value_cache", vc, meaning)))
      return failure();
    int64_t smax = kc.getDimSize(2);
    if (failed(checkShape(op, "key_cache", kc, {b, hkv, smax, d},
                          "[B, Hkv, Smax, D]")) ||
        failed(checkShape(op, "value_cache", vc, {b, hkv, smax, dv},
                          "[B, Hkv, Smax, Dv]")))
      return failure();
    return success();
  }
  bool hnd = layout == PageLayout::HND;
  const char *meaning = hnd ? "[P, Hkv, page_size, D] (paged cache, hnd)"
                            : "[P, page_size, Hkv, D] (paged cache)";
  if (failed(checkRank4(op, "key_cache", kc, meaning)) ||
      failed(checkRank4(op, "value_cache", vc, meaning)))
    return failure();
  int64_t pages = kc.getDimSize(0), pageSize = kc.getDimSize(hnd ? 2 : 1);
  if (hnd) {
    if (failed(checkShape(op, "key_cache", kc, {pages, hkv, pageSize, d},
                          "[P, Hkv, page_size, D] (hnd)")) ||
        failed(checkShape(op, "value_cache", vc, {pages, hkv, pageSize, dv},
                          "[P, Hkv, page_size, Dv] (hnd)")))
      return failure();
  } else if (failed(checkShape(op, "key_cache", kc, {pages, pageSize, hkv, d},
                               "[P, page_size, Hkv, D]")) ||
             failed(checkShape(op, "value_cache", vc,
                               {pages, pageSize, hkv, dv},
                               "[P, page_size, Hkv, Dv]")))
    return failure();
  if (pageSize == 0)
    return op->emitOpError("page_size must be at least 1");
  auto bt = cast<ShapedType>(blockTable.getType());
  if (bt.getRank() != 2)
    return op->emitOpError() << "block_table must have rank 2 [B, max_pages],"
                             << " got rank " << bt.getRank();
  int64_t maxPages = bt.getDimSize(1);
  if (!ShapedType::isDynamic(pageSize) && !ShapedType::isDynamic(maxPages) &&
      maxPages * pageSize > limits::kMaxDim)
    return op->emitOpError()
           << "max_pages * page_size (" << maxPages << " * " << pageSize
           << ") exceeds the limit of " << limits::kMaxDim
           << " positions per sequence (positions are i32)";
  if (!sizesAgree(bt.getDimSize(0), b))
    return op->emitOpError() << "block_table has " << sizeStr(bt.getDimSize(0))
                             << " rows but the batch size is " << sizeStr(b);
  return success();
}

/// Positions a cache holds per sequence (Smax, or max_pages * page_size);
/// kDynamic when a factor is a run-time size.
int64_t cacheCapacity(ShapedType kc, Value blockTable, bool hnd) {
  if (!blockTable)
    return kc.getDimSize(2);
  int64_t pageSize = kc.getDimSize(hnd ? 2 : 1);
  int64_t maxPages = cast<ShapedType>(blockTable.getType()).getDimSize(1);
  if (ShapedType::isDynamic(pageSize) || ShapedType::isDynamic(maxPages))
    return ShapedType::kDynamic;
  return pageSize * maxPages;
}

/// The optional sink logits: one f32 per query head.
LogicalResult checkSinks(Operation *op, Value sinks, int64_t hq) {
  if (!sinks)
    return success();
  auto ty = cast<ShapedType>(sinks.getType());
  if (!ty.getElementType().isF32())
    return op->emitOpError() << "sinks element type must be f32 (one logit "
                             << "per query head), got " << ty.getElementType();
  return checkShape(op, "sinks", ty, {hq}, "[Hq]");
}

} // namespace mlir::attn::verify

//===----------------------------------------------------------------------===//
// AttentionOp and AttentionGradOp: the shared operand checks
//===----------------------------------------------------------------------===//

namespace {

/// What attn.attention and attn.attention_grad share: q, k, v, the
/// optional mask/bias/length/segment operands and the attributes. (Dropout,
/// when the forward gains it, is checked here for both.)
struct AttentionOperands {
  Value query, key, value, boolMask, bias, kvLengths, qSeg, kvSeg;
  Layout layout;
  std::optional<MaskAttr> mask;
  std::optional<APFloat> scale, softcap;
};

/// Logical sizes of a verified attention.
struct AttentionDims {
  int64_t b, hq, sq, d, hkv, skv, dv;
};

StringRef qkvMeaning(Layout layout) {
  return layout == Layout::BHSD ? "[B, H, S, D] (bhsd layout)"
                                : "[B, S, H, D] (bshd layout)";
}

StringRef outMeaning(Layout layout) {
  return layout == Layout::BHSD ? "[B, Hq, Sq, Dv]" : "[B, Sq, Hq, Dv]";
}

/// The checks of every operand the forward and backward ops share, plus
/// the size limits of all of `op`'s operands and results.
FailureOr<AttentionDims> verifyAttentionOperands(Operation *op,
                                                 const AttentionOperands &a) {
  auto qTy = cast<ShapedType>(a.query.getType()),
       kTy = cast<ShapedType>(a.key.getType()),
       vTy = cast<ShapedType>(a.value.getType());
  Layout layout = a.layout;
  if (failed(checkRank4(op, "query", qTy, qkvMeaning(layout))) ||
      failed(checkRank4(op, "key", kTy, qkvMeaning(layout))) ||
      failed(checkRank4(op, "value", vTy, qkvMeaning(layout))) ||
      failed(checkAllSizeLimits(op)))
    return failure();
  Type elt = qTy.getElementType();
  if (failed(checkSameElementType(op, "key", kTy.getElementType(), "query",
                                  elt)) ||
      failed(checkSameElementType(op, "value", vTy.getElementType(), "query",
                                  elt)))
    return failure();

  auto q = toLogical(qTy.getShape(), layout);
  auto k = toLogical(kTy.getShape(), layout);
  auto v = toLogical(vTy.getShape(), layout);
  AttentionDims dims{q[0], q[1], q[2], q[3], k[1], k[2], v[3]};
  auto [b, hq, sq, d, hkv, skv, dv] = dims;
  StringRef kMeaning =
      layout == Layout::BHSD ? "[B, Hkv, Skv, D]" : "[B, Skv, Hkv, D]";
  StringRef vMeaning =
      layout == Layout::BHSD ? "[B, Hkv, Skv, Dv]" : "[B, Skv, Hkv, Dv]";
  if (failed(checkShape(op, "key", kTy, toPhysical({b, hkv, skv, d}, layout),
                        kMeaning)) ||
      failed(checkShape(op, "value", vTy, toPhysical({b, hkv, skv, dv}, layout),
                        vMeaning)) ||
      failed(checkHeadRatio(op, hq, hkv)) ||
      failed(checkHeadLimits(op, hq, hkv, d, dv)) ||
      failed(checkQueryPositions(op, a.mask, sq)))
    return failure();

  SmallVector<int64_t, 4> full = {b, hq, sq, skv};
  if (a.boolMask &&
      failed(checkBroadcastable(op, "bool_mask",
                                cast<ShapedType>(a.boolMask.getType()), full)))
    return failure();
  if (a.bias && failed(checkBroadcastable(
                    op, "bias", cast<ShapedType>(a.bias.getType()), full)))
    return failure();
  if (failed(checkLengths(op, "kv_lengths", a.kvLengths, b)))
    return failure();
  if (static_cast<bool>(a.qSeg) != static_cast<bool>(a.kvSeg))
    return op->emitOpError("segment ids need both q_segment_ids and "
                           "kv_segment_ids");
  if (a.qSeg) {
    if (failed(checkShape(op, "q_segment_ids",
                          cast<ShapedType>(a.qSeg.getType()), {b, sq},
                          "[B, Sq]")) ||
        failed(checkShape(op, "kv_segment_ids",
                          cast<ShapedType>(a.kvSeg.getType()), {b, skv},
                          "[B, Skv]")))
      return failure();
  }
  if (failed(checkScaleAndCap(op, a.scale, a.softcap)))
    return failure();
  return dims;
}

float defaultScale(std::optional<APFloat> scale, int64_t d) {
  if (scale)
    return scale->convertToFloat();
  return 1.0f / std::sqrt(static_cast<float>(d));
}

} // namespace

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

// attn.attention and attn.attention_grad read their operands alike: one
// definition of the layout, scale and operand checks serves both.
namespace {

template <typename OpT> Layout layoutOrDefault(OpT op) {
  return op.getLayout().value_or(Layout::BHSD);
}

template <typename OpT>
SmallVector<int64_t, 4> logicalShapeOf(OpT op, Value tensor) {
  return toLogical(cast<ShapedType>(tensor.getType()).getShape(),
                   layoutOrDefault(op));
}

template <typename OpT> float scaleOrDefault(OpT op) {
  return defaultScale(op.getScale(), logicalShapeOf(op, op.getQuery())[3]);
}

template <typename OpT> auto verifyOperandsOf(OpT op) {
  return verifyAttentionOperands(
      op.getOperation(),
      {op.getQuery(), op.getKey(), op.getValue(), op.getBoolMask(),
       op.getBias(), op.getKvLengths(), op.getQSegmentIds(),
       op.getKvSegmentIds(), layoutOrDefault(op), op.getMask(), op.getScale(),
       op.getSoftcap()});
}

} // namespace

Layout AttentionOp::getLayoutOrDefault() { return layoutOrDefault(*this); }

float AttentionOp::getScaleOrDefault() { return scaleOrDefault(*this); }

SmallVector<int64_t, 4> AttentionOp::getLogicalShape(Value tensor) {
  return logicalShapeOf(*this, tensor);
}

LogicalResult AttentionOp::verify() {
  Operation *op = getOperation();
  Layout layout = getLayoutOrDefault();
  auto dims = verifyOperandsOf(*this);
  if (failed(dims))
    return failure();
  auto [b, hq, sq, d, hkv, skv, dv] = *dims;
  auto oTy = getOutput().getType();
  if (failed(checkSameElementType(op, "output", oTy.getElementType(), "query",
                                  getQuery().getType().getElementType())) ||
      failed(checkShape(op, "output", oTy, toPhysical({b, hq, sq, dv}, layout),
                        outMeaning(layout))))
    return failure();
  if (auto lse = getLse())
    if (failed(
            checkShape(op, "lse", lse.getType(), {b, hq, sq}, "[B, Hq, Sq]")))
      return failure();
  if (failed(checkSinks(op, getSinks(), hq)) ||
      failed(verifyBlockMask(op, getKvNumBlocks(), getKvIndices(),
                             getBlockSize(), b, hq, sq)))
    return failure();
  return checkDropout(op, getDropoutState(), getDropoutP());
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

Layout AttentionGradOp::getLayoutOrDefault() { return layoutOrDefault(*this); }

float AttentionGradOp::getScaleOrDefault() { return scaleOrDefault(*this); }

SmallVector<int64_t, 4> AttentionGradOp::getLogicalShape(Value tensor) {
  return logicalShapeOf(*this, tensor);
}

LogicalResult AttentionGradOp::verify() {
  Operation *op = getOperation();
  Layout layout = getLayoutOrDefault();
  auto dims = verifyOperandsOf(*this);
  if (failed(dims))
    return failure();
  auto [b, hq, sq, d, hkv, skv, dv] = *dims;
  Type elt = getQuery().getType().getElementType();
  SmallVector<int64_t, 4> oShape = toPhysical({b, hq, sq, dv}, layout);
  for (auto [name, value] : {std::pair<StringRef, Value>{"output", getOutput()},
                             {"grad_output", getGradOutput()}}) {
    auto ty = cast<ShapedType>(value.getType());
    if (failed(checkSameElementType(op, name, ty.getElementType(), "query",
                                    elt)) ||
        failed(checkShape(op, name, ty, oShape, outMeaning(layout))))
      return failure();
  }
  if (failed(checkShape(op, "lse", getLse().getType(), {b, hq, sq},
                        "[B, Hq, Sq]")))
    return failure();
  // Each gradient has exactly its input's type (shape and element type).
  for (auto [name, grad, input] :
       {std::tuple<StringRef, Value, Value>{"grad_query", getGradQuery(),
                                            getQuery()},
        {"grad_key", getGradKey(), getKey()},
        {"grad_value", getGradValue(), getValue()}})
    if (grad.getType() != input.getType())
      return emitOpError() << name << " type " << grad.getType()
                           << " differs from its input's type "
                           << input.getType();
  if (Value gb = getGradBias()) {
    if (!getBias())
      return emitOpError("grad_bias needs a bias operand");
    if (gb.getType() != getBias().getType())
      return emitOpError() << "grad_bias type " << gb.getType()
                           << " differs from the bias type "
                           << getBias().getType();
  }
  return checkDropout(op, getDropoutState(), getDropoutP());
}

namespace {
/// Checks a modifier region: `argTypes` block arguments and one yielded
/// value of type `resultType`.
LogicalResult verifyModRegion(Operation *op, Region &region, StringRef name,
                              TypeRange argTypes, Type resultType,
                              StringRef signature) {
  if (region.empty())
    return success();
  if (!region.hasOneBlock())
    return op->emitOpError() << name << " region must have one block";
  Block &block = region.front();
  if (block.getArgumentTypes() != argTypes)
    return op->emitOpError()
           << name << " region must have arguments " << signature;
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return op->emitOpError() << name << " region must end with attn.yield";
  if (yield.getValue().getType() != resultType)
    return op->emitOpError() << name << " region must yield " << resultType
                             << ", got " << yield.getValue().getType();
  return success();
}
} // namespace

static constexpr const char *kScoreModSignature =
    "(score: f32, b: index, h: index, q_idx: index, kv_idx: index)";

/// The score_mod and mask_mod regions of either attention op.
static LogicalResult verifyModRegions(Operation *op, Region &scoreMod,
                                      Region &maskMod) {
  Builder b(op->getContext());
  Type idx = b.getIndexType();
  if (failed(verifyModRegion(op, scoreMod, "score_mod",
                             {b.getF32Type(), idx, idx, idx, idx},
                             b.getF32Type(), kScoreModSignature)))
    return failure();
  return verifyModRegion(op, maskMod, "mask_mod", {idx, idx, idx, idx},
                         b.getI1Type(),
                         "(b: index, h: index, q_idx: index, kv_idx: index)");
}

LogicalResult AttentionOp::verifyRegions() {
  return verifyModRegions(*this, getScoreMod(), getMaskMod());
}

LogicalResult AttentionGradOp::verifyRegions() {
  if (failed(verifyModRegions(*this, getScoreMod(), getMaskMod())))
    return failure();
  if (getScoreModGrad().empty())
    return success();
  if (getScoreMod().empty())
    return emitOpError("score_mod_grad region needs a score_mod region");
  Builder b(getContext());
  Type idx = b.getIndexType();
  return verifyModRegion(*this, getScoreModGrad(), "score_mod_grad",
                         {b.getF32Type(), idx, idx, idx, idx}, b.getF32Type(),
                         kScoreModSignature);
}

//===----------------------------------------------------------------------===//
// CacheAppendOp
//===----------------------------------------------------------------------===//

LogicalResult CacheAppendOp::verify() {
  Operation *op = getOperation();
  auto kTy = getKey().getType(), vTy = getValue().getType();
  if (failed(checkRank4(op, "key", kTy, "[B, Hkv, Snew, D]")) ||
      failed(checkRank4(op, "value", vTy, "[B, Hkv, Snew, Dv]")) ||
      failed(checkSameElementType(op, "value", vTy.getElementType(), "key",
                                  kTy.getElementType())) ||
      failed(checkAllSizeLimits(op)))
    return failure();
  int64_t b = kTy.getDimSize(0), hkv = kTy.getDimSize(1),
          snew = kTy.getDimSize(2), d = kTy.getDimSize(3),
          dv = vTy.getDimSize(3);
  if (failed(checkShape(op, "value", vTy, {b, hkv, snew, dv},
                        "[B, Hkv, Snew, Dv]")) ||
      failed(checkHeadLimits(op, hkv, hkv, d, dv)) ||
      failed(checkCaches(op, getKeyCache().getType(), getValueCache().getType(),
                         getBlockTable(), getPageLayout(), b, hkv, d, dv)) ||
      failed(checkLengths(op, "cache_lengths", getCacheLengths(), b)) ||
      failed(checkLengths(op, "new_lengths", getNewLengths(), b)) ||
      failed(verifyRotary(
          op, getRotaryCos(), getRotarySin(), getRope(), "key",
          kTy.getElementType(), d,
          cacheCapacity(getKeyCache().getType(), getBlockTable(),
                        getPageLayoutOrDefault() == PageLayout::HND))))
    return failure();
  if (!isPaged()) {
    int64_t smax = getKeyCache().getType().getDimSize(2);
    if (!ShapedType::isDynamic(smax) && !ShapedType::isDynamic(snew) &&
        snew > smax)
      return emitOpError() << "appends " << snew
                           << " rows per sequence but the cache holds only "
                           << smax;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// CacheAttentionOp
//===----------------------------------------------------------------------===//

float CacheAttentionOp::getScaleOrDefault() {
  if (auto s = getScale())
    return s->convertToFloat();
  auto qTy = getQuery().getType();
  int64_t d = qTy.getDimSize(qTy.getRank() - 1);
  return 1.0f / std::sqrt(static_cast<float>(d));
}

static constexpr const char *kCacheForms =
    "(contiguous [B, Hkv, Smax, D], paged [P, page_size, Hkv, D] or hnd "
    "paged [P, Hkv, page_size, D])";

/// The query, output and lse of a packed (mixed-batch) cache_attention:
/// `[T, Hq, D]`, `[T, Hq, Dv]`, `[T, Hq]`, `query_offsets` `[B + 1]`.
static LogicalResult verifyPackedRows(CacheAttentionOp op, int64_t b,
                                      int64_t dv) {
  auto qTy = op.getQuery().getType(), oTy = op.getOutput().getType();
  int64_t t = qTy.getDimSize(0), hq = qTy.getDimSize(1);
  if (failed(checkShape(op, "output", oTy, {t, hq, dv}, "[T, Hq, Dv]")))
    return failure();
  if (auto lse = op.getLse())
    if (failed(checkShape(op, "lse", lse.getType(), {t, hq}, "[T, Hq]")))
      return failure();
  auto qoTy = cast<ShapedType>(op.getQueryOffsets().getType());
  if (qoTy.getRank() != 1)
    return op.emitOpError()
           << "query_offsets must have rank 1 [B + 1] "
           << "(cumulative query counts), got rank " << qoTy.getRank();
  int64_t n = qoTy.getDimSize(0);
  if (!ShapedType::isDynamic(n) && !ShapedType::isDynamic(b) && n != b + 1)
    return op.emitOpError()
           << "query_offsets has " << n << " entries but the batch has " << b
           << " sequences: it needs B + 1 = " << b + 1;
  if (!ShapedType::isDynamic(n) && n == 0)
    return op.emitOpError("query_offsets needs at least one entry (B + 1)");
  return success();
}

LogicalResult CacheAttentionOp::verify() {
  Operation *op = getOperation();
  auto qTy = getQuery().getType(), oTy = getOutput().getType();
  auto kcTy = getKeyCache().getType(), vcTy = getValueCache().getType();
  bool packed = isPacked();
  if (!packed && qTy.getRank() == 3)
    return emitOpError("a rank-3 query [T, Hq, D] is packed: it needs "
                       "query_offsets [B + 1]");
  if (packed && qTy.getRank() != 3)
    return emitOpError() << "query must have rank 3 [T, Hq, D] (packed by "
                            "query_offsets), got rank "
                         << qTy.getRank();
  if ((!packed && (failed(checkRank4(op, "query", qTy, "[B, Hq, Sq, D]")) ||
                   failed(checkRank4(op, "output", oTy, "[B, Hq, Sq, Dv]")))) ||
      failed(checkRank4(op, "key_cache", kcTy, kCacheForms)) ||
      failed(checkRank4(op, "value_cache", vcTy, kCacheForms)) ||
      failed(checkSameElementType(op, "output", oTy.getElementType(), "query",
                                  qTy.getElementType())) ||
      failed(checkAllSizeLimits(op)))
    return failure();
  // Packed queries: the batch is the lengths' size.
  auto lenTy = getCacheLengths().getType();
  int64_t b = !packed                ? qTy.getDimSize(0)
              : lenTy.getRank() == 1 ? lenTy.getDimSize(0)
                                     : ShapedType::kDynamic;
  int64_t hq = qTy.getDimSize(1), sq = packed ? 0 : qTy.getDimSize(2),
          d = qTy.getDimSize(packed ? 2 : 3);
  bool nhdPaged = isPaged() && getPageLayoutOrDefault() == PageLayout::NHD;
  int64_t hkv = kcTy.getDimSize(nhdPaged ? 2 : 1);
  int64_t dv = vcTy.getDimSize(3);
  if (failed(checkCaches(op, kcTy, vcTy, getBlockTable(), getPageLayout(), b,
                         hkv, d, dv)) ||
      failed(checkHeadRatio(op, hq, hkv)) ||
      failed(checkHeadLimits(op, hq, hkv, d, dv)) ||
      failed(packed ? verifyPackedRows(*this, b, dv)
                    : checkShape(op, "output", oTy, {b, hq, sq, dv},
                                 "[B, Hq, Sq, Dv]")) ||
      failed(checkLengths(op, "cache_lengths", getCacheLengths(), b)) ||
      failed(checkSinks(op, getSinks(), hq)) ||
      failed(verifyRotary(
          op, getRotaryCos(), getRotarySin(), getRope(), "query",
          qTy.getElementType(), d,
          cacheCapacity(kcTy, getBlockTable(), isPaged() && !nhdPaged))))
    return failure();
  if (auto lse = getLse(); lse && !packed)
    if (failed(
            checkShape(op, "lse", lse.getType(), {b, hq, sq}, "[B, Hq, Sq]")))
      return failure();
  if (auto mask = getMask(); mask && mask->getQOffset() != 0)
    return emitOpError("mask q_offset must be 0: cache_attention places "
                       "queries at the end of each sequence");
  return checkScaleAndCap(op, getScale(), getSoftcap());
}

//===----------------------------------------------------------------------===//
// MergeStatesOp
//===----------------------------------------------------------------------===//

LogicalResult MergeStatesOp::verify() {
  Operation *op = getOperation();
  auto sTy = getStates().getType(), lTy = getStateLse().getType();
  auto oTy = getOutput().getType();
  if (sTy.getRank() != 5)
    return emitOpError() << "states must have rank 5 [N, B, H, S, Dv], got "
                         << "rank " << sTy.getRank();
  if (failed(checkSameElementType(op, "output", oTy.getElementType(), "states",
                                  sTy.getElementType())) ||
      failed(checkAllSizeLimits(op)))
    return failure();
  auto s = sTy.getShape();
  if (failed(checkShape(op, "state_lse", lTy, {s[0], s[1], s[2], s[3]},
                        "[N, B, H, S]")) ||
      failed(checkShape(op, "output", oTy, {s[1], s[2], s[3], s[4]},
                        "[B, H, S, Dv]")))
    return failure();
  if (auto lse = getLse())
    if (failed(checkShape(op, "lse", lse.getType(), {s[1], s[2], s[3]},
                          "[B, H, S]")))
      return failure();
  if (s[0] == 0)
    return emitOpError("needs at least one state (N >= 1)");
  return success();
}

#define GET_OP_CLASSES
#include "dialect/AttnOps.cpp.inc"
