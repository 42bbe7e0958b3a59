//===- VectorizeDropout.cpp - tile_dropout -> vector Philox ---------------===//
//
// The keep bits of attn.tile_dropout, computed as common/Philox.h defines
// them: one Philox4x32-10 call per four keys of a column vector, ten rounds
// of 32x32->64 products (arith.mului_extended) on i32 vectors, one lane per
// query row (the rounds: passes/PhiloxEmitter.h, shared with the GPU
// kernels). The constants and the counter mapping come from the header, so
// the vector code and the float64 reference cannot drift apart.
//
//===----------------------------------------------------------------------===//
#include "common/Philox.h"
#include "passes/PhiloxEmitter.h"
#include "passes/TileVectorizer.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::detail;

void TileVectorizer::lower(TileDropoutOp op) {
  namespace px = mlir::attn::philox;
  Value s = op.getProbs();
  Type i32 = b.getI32Type();
  auto iVec = VectorType::get({width}, i32);
  auto constI = [&](uint32_t x) -> Value {
    return arith::ConstantOp::create(
        b, iVec, DenseElementsAttr::get(iVec, static_cast<int32_t>(x)));
  };
  auto splatI = [&](Value x) -> Value {
    return vector::BroadcastOp::create(b, iVec, x);
  };
  auto toI32 = [&](Value idx) -> Value {
    return arith::IndexCastUIOp::create(b, i32, idx);
  };
  auto lowWord = [&](Value x) -> Value {
    return arith::TruncIOp::create(b, i32, x);
  };
  // Key: the seed's halves; counter word 3: the offset's low 32 bits.
  Value seed = op.getSeed();
  Value k0 = splatI(lowWord(seed));
  Value k1 = splatI(lowWord(arith::ShRUIOp::create(
      b, seed, arith::ConstantOp::create(b, b.getI64IntegerAttr(32)))));
  Value c3 = splatI(lowWord(op.getOffset()));
  // Counter words 1 (query) and 2 (batch * num_heads + head) per lane.
  int64_t tq = op.getRowsPerHead();
  Value head0 =
      toI32(im.add(im.mul(op.getBatch(), op.getNumHeads()), op.getHeadStart()));
  Value q0 = splatI(toI32(op.getQStart()));
  SmallVector<int32_t> lanes(width);
  for (int64_t l = 0; l < width; ++l)
    lanes[l] = static_cast<int32_t>(l);
  Value iota = arith::ConstantOp::create(
      b, iVec, DenseElementsAttr::get(iVec, ArrayRef<int32_t>(lanes)));
  SmallVector<Value> c1s, c2s;
  for (int64_t c = 0; c < cols(s); c += width) {
    Value m = arith::AddIOp::create(b, iota, constI(c));
    c1s.push_back(
        arith::AddIOp::create(b, q0, arith::RemUIOp::create(b, m, constI(tq))));
    c2s.push_back(arith::AddIOp::create(
        b, splatI(head0), arith::DivUIOp::create(b, m, constI(tq))));
  }
  uint32_t threshold = px::dropThreshold(op.getP().convertToDouble());
  Value thresholdVec = constI(threshold);
  Value scaleVec =
      splat(static_cast<float>(1.0 / (1.0 - op.getP().convertToDouble())));
  Value zero = splat(0.0f);
  Value kvStart = op.getKvStart();
  loop(im.c(0), im.c(rows(s)), 4, [&](Value n) {
    // Counter word 0: the block of four keys.
    Value c0 = splatI(toI32(
        arith::ShRUIOp::create(b, im.add(kvStart, n), im.c(2)).getResult()));
    for (auto [ci, c1, c2] : llvm::enumerate(c1s, c2s)) {
      std::array<Value, 4> ctr =
          emitPhilox4x32_10(b, {c0, c1, c2, c3}, k0, k1, constI);
      Value col = im.c(ci * width);
      for (int64_t w = 0; w < 4; ++w) {
        Value row = im.add(n, w);
        Value keep = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, ctr[w],
                                           thresholdVec);
        Value v = load(s, {row, col});
        Value kept = arith::MulFOp::create(b, v, scaleVec);
        store(arith::SelectOp::create(b, keep, kept, zero), s, {row, col});
      }
    }
  });
}
