//===- Softmax.cpp - scores -> probabilities in the flash kernel ----------===//
//
// What happens to a tile's scores between the two matrix products, in
// order: additive bias, score_mod, softcap, the masks (only where the tile
// is not fully visible), then the online softmax in base 2 (running max
// raised lazily, row sums, the O accumulators rescaled when any row of the
// warp raised its max). Works on the fragments of m tiles [mtLo, mtHi), so
// wgmma can turn one M tile into probabilities while the next one's
// scores are still being computed.
//
//===----------------------------------------------------------------------===//
#include "passes/MaskBuilder.h"
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

namespace {
/// The running max is only raised when a score exceeds it by more than
/// 2^kLazyRescaleLog2 (see onlineSoftmax).
constexpr float kLazyRescaleLog2 = 8.0f;
} // namespace

Value FlashKernelEmitter::inlineModifier(Region &region, ValueRange args) {
  IRMapping map;
  Block &block = region.front();
  map.map(block.getArguments(), args);
  region.walk([&](Operation *inner) {
    for (Value operand : inner->getOperands())
      if (!region.isAncestor(operand.getParentRegion()) &&
          !map.contains(operand))
        map.map(operand, b.clone(*operand.getDefiningOp())->getResult(0));
  });
  for (Operation &inner : block.without_terminator())
    b.clone(inner, map);
  return map.lookup(block.getTerminator()->getOperand(0));
}

Value FlashKernelEmitter::customAllows(Value h, Value sIdx, Value key) {
  Value ok = arith::ConstantOp::create(b, b.getBoolAttr(true));
  auto both = [&](Value c) { ok = arith::AndIOp::create(b, ok, c); };
  if (boolMask) {
    SmallVector<Value> idx = {batch, h, sIdx, key};
    for (auto [i, extent] : llvm::enumerate(g.boolMaskShape))
      if (extent == 1)
        idx[i] = im.c(0);
    both(memref::LoadOp::create(b, boolMask, idx));
  }
  if (qSegments) {
    Value a = memref::LoadOp::create(b, qSegments, ValueRange{batch, sIdx});
    Value c = memref::LoadOp::create(b, kvSegments, ValueRange{batch, key});
    both(arith::CmpIOp::create(b, arith::CmpIPredicate::eq, a, c));
  }
  if (g.maskMod)
    both(inlineModifier(*g.maskMod, {batch, h, sIdx, key}));
  return ok;
}

Value FlashKernelEmitter::allows(Value qpos, Value key) {
  if (Value keep = MaskBuilder(b, g.mask).allows(qpos, key))
    return keep;
  return arith::ConstantOp::create(b, b.getBoolAttr(true));
}

Value FlashKernelEmitter::tileFullyVisible(KvStep &st) {
  // Partially visible tiles evaluate the mask per score; custom masks are
  // never known to be fully visible, block-sparse tiles only when every
  // row lists their block.
  if (g.hasCustomMask())
    return arith::ConstantOp::create(b, b.getBoolAttr(false));
  Value tileEnd = im.add(st.tileKey0, im.c(g.tileKv));
  Value full = MaskBuilder(b, g.mask).fullyVisible(
      im.le(tileEnd, len), qlo, qhi, st.tileKey0, im.sub(tileEnd, im.c(1)));
  if (g.blockSparse())
    full = arith::AndIOp::create(b, full, st.everyRowListed);
  return full;
}

void FlashKernelEmitter::scoresToProbabilities(KvStep &st, int64_t mtLo,
                                               int64_t mtHi) {
  applyBias(st, mtLo, mtHi);
  applyScoreMod(st, mtLo, mtHi);
  applySoftcap(st, mtLo, mtHi);
  applyMask(st, mtLo, mtHi);
  onlineSoftmax(st, mtLo, mtHi);
  if (g.dropsWeights())
    applyDropout(st, mtLo, mtHi);
}

void FlashKernelEmitter::forEachScore(
    KvStep &st, int64_t mtLo, int64_t mtHi,
    function_ref<void(Value &, Value, Value, Value)> body) {
  const int64_t sTiles = g.warpKeys() / 8;
  for (int64_t mt = mtLo; mt < mtHi; ++mt)
    for (int64_t t = 0; t < sTiles; ++t)
      for (int64_t i = 0; i < 4; ++i) {
        auto [h, sIdx] = heads[mt * 2 + i / 2];
        Value key = im.min(
            im.add(st.tileKeyBase, im.add(colPair, im.c(t * 8 + (i % 2)))),
            lastKey());
        body(st.s[mt][t][i], h, sIdx, key);
      }
}

void FlashKernelEmitter::applyBias(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // Additive bias (ALiBi, relative positions): s = scale * s + bias, one
  // scalar load per score (size-1 dims broadcast; keys past the end read
  // the last key, masked below).
  if (!g.hasBias())
    return;
  Value scaleC = cf(g.scale);
  auto pick = [&](int64_t dim, Value i) {
    return g.biasShape[dim] == 1 ? im.c(0) : i;
  };
  forEachScore(
      st, mtLo, mtHi, [&](Value &score, Value h, Value sIdx, Value key) {
        Value x =
            memref::LoadOp::create(b, bias,
                                   ValueRange{pick(0, batch), pick(1, h),
                                              pick(2, sIdx), pick(3, key)});
        if (!x.getType().isF32())
          x = arith::ExtFOp::create(b, b.getF32Type(), x);
        score = math::FmaOp::create(b, score, scaleC, x);
      });
}

void FlashKernelEmitter::applyScoreMod(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // score_mod (FlexAttention): the region, inlined per score, maps the
  // scaled (and biased) logit of (batch, query head, query, key).
  if (!g.scoreMod)
    return;
  Value scaleC = cf(g.scale);
  forEachScore(st, mtLo, mtHi,
               [&](Value &score, Value h, Value sIdx, Value key) {
                 Value x = g.hasBias() ? score : fmul(score, scaleC);
                 score = inlineModifier(*g.scoreMod, {x, batch, h, sIdx, key});
               });
}

void FlashKernelEmitter::applySoftcap(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // Softcapping (Gemma 2): s = softcap * tanh(scale * s / softcap), so the
  // scores below are already scaled. tanh.approx (sm_75+) through the
  // generic intrinsic with afn: no libdevice.
  if (g.softcap <= 0)
    return;
  Value inner = cf((g.hasBias() || g.scoreMod ? 1.0f : g.scale) / g.softcap),
        outer = cf(g.softcap);
  auto afn =
      LLVM::FastmathFlagsAttr::get(b.getContext(), LLVM::FastmathFlags::afn);
  for (int64_t mt = mtLo; mt < mtHi; ++mt)
    for (auto &tileS : st.s[mt])
      for (Value &x : tileS)
        x = fmul(LLVM::CallIntrinsicOp::create(b, TypeRange{b.getF32Type()},
                                               b.getStringAttr("llvm.tanh.f32"),
                                               ValueRange{fmul(x, inner)}, afn)
                     .getResult(0),
                 outer);
}

void FlashKernelEmitter::applyMask(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // Partially visible tiles evaluate the mask per score.
  const int64_t sTiles = g.warpKeys() / 8;
  Fragments part(st.s.begin() + mtLo, st.s.begin() + mtHi);
  SmallVector<Value> flat = flatten(part);
  SmallVector<Type> flatTypes(flat.size(), b.getF32Type());
  auto ifMask = scf::IfOp::create(b, flatTypes, st.full, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifMask.thenBlock());
    scf::YieldOp::create(b, flat);
    b.setInsertionPointToStart(ifMask.elseBlock());
    SmallVector<Value> masked;
    Value ninf = cf(kNegInf);
    // Block-sparse: whether each row half lists the tile's KV block.
    SmallVector<Value> listed(2 * g.warpRowTiles);
    if (g.blockSparse())
      for (int64_t hI = 2 * mtLo; hI < 2 * mtHi; ++hI)
        listed[hI] = rowListsBlock(heads[hI].first, heads[hI].second,
                                   im.div(st.tileKey0, g.sparseKvBlock));
    for (int64_t mt = mtLo; mt < mtHi; ++mt)
      for (int64_t t = 0; t < sTiles; ++t)
        for (int64_t i = 0; i < 4; ++i) {
          Value key = im.add(im.add(st.tileKey0, st.keyOff),
                             im.add(colPair, im.c(t * 8 + (i % 2))));
          Value keep = arith::AndIOp::create(b, im.lt(key, len),
                                             allows(qpos[mt * 2 + i / 2], key));
          if (g.blockSparse())
            keep = arith::AndIOp::create(b, keep, listed[mt * 2 + i / 2]);
          if (g.hasCustomMask()) {
            auto [h, sIdx] = heads[mt * 2 + i / 2];
            keep = arith::AndIOp::create(
                b, keep, customAllows(h, sIdx, im.min(key, lastKey())));
          }
          masked.push_back(
              select(keep, flat[((mt - mtLo) * sTiles + t) * 4 + i], ninf));
        }
    scf::YieldOp::create(b, masked);
  }
  unflatten(part, ifMask.getResults());
  std::copy(part.begin(), part.end(), st.s.begin() + mtLo);
}

void FlashKernelEmitter::onlineSoftmax(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // Online softmax in base 2. The scale is positive, so the row max of the
  // raw scores picks the same element; one FMA per score then gives
  // s * scale * log2(e) - max. The running max is only raised when a score
  // exceeds it by more than 2^kLazyRescaleLog2 (probabilities up to 256 are
  // exact enough in f32 sums and bf16 P): after the first tiles the
  // accumulator rescale, as many FMULs as MMAs, is skipped for the whole
  // warp.
  const int64_t oTiles = g.dvPad() / 8;
  Value anyRaised = arith::ConstantOp::create(b, b.getBoolAttr(false));
  for (int64_t mt = mtLo; mt < mtHi; ++mt)
    for (int64_t half = 0; half < 2; ++half) {
      int64_t hI = mt * 2 + half;
      Value mx = cf(kNegInf);
      for (auto &tileS : st.s[mt])
        mx = fmax(mx, fmax(tileS[2 * half], tileS[2 * half + 1]));
      Value scaled = fmul(quadReduce(mx, true), st.scaleLog2);
      Value raise = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, scaled,
                                          fadd(st.m[hI], cf(kLazyRescaleLog2)));
      anyRaised = arith::OrIOp::create(b, anyRaised, raise);
      st.newM[hI] = select(raise, scaled, st.m[hI]);
      Value base = safeMax(st.newM[hI]);
      st.corr[hI] = ex2(fsub(st.m[hI], base));
      Value negBase = arith::NegFOp::create(b, base);
      st.sum[hI] = cf(0);
      for (auto &tileS : st.s[mt])
        for (int64_t i = 2 * half; i < 2 * half + 2; ++i) {
          tileS[i] =
              ex2(math::FmaOp::create(b, tileS[i], st.scaleLog2, negBase));
          st.sum[hI] = fadd(st.sum[hI], tileS[i]);
        }
      st.l[hI] = fadd(fmul(st.l[hI], st.corr[hI]), st.sum[hI]);
    }
  // Rescale O where any row of the warp raised its max.
  Value fullMask = arith::ConstantIntOp::create(b, b.getI32Type(), -1);
  Value warpRaised = NVVM::VoteSyncOp::create(
      b, b.getI1Type(), fullMask, anyRaised,
      NVVM::VoteSyncKindAttr::get(b.getContext(), NVVM::VoteSyncKind::any));
  Fragments oPart(st.o.begin() + mtLo, st.o.begin() + mtHi);
  SmallVector<Value> oFlat = flatten(oPart);
  SmallVector<Type> oTypes(oFlat.size(), b.getF32Type());
  auto ifRescale = scf::IfOp::create(b, oTypes, warpRaised, true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifRescale.thenBlock());
    SmallVector<Value> scaled;
    for (int64_t mt = mtLo; mt < mtHi; ++mt)
      for (int64_t t = 0; t < oTiles; ++t)
        for (int64_t i = 0; i < 4; ++i)
          scaled.push_back(fmul(oFlat[((mt - mtLo) * oTiles + t) * 4 + i],
                                st.corr[mt * 2 + i / 2]));
    scf::YieldOp::create(b, scaled);
    b.setInsertionPointToStart(ifRescale.elseBlock());
    scf::YieldOp::create(b, oFlat);
  }
  unflatten(oPart, ifRescale.getResults());
  std::copy(oPart.begin(), oPart.end(), st.o.begin() + mtLo);
}
