//===- Dropout.cpp - dropout on the flash kernel's probabilities ----------===//
//
// The keep bits of common/Philox.h for the scores a thread holds: in the
// mma C fragment (and wgmma's, which repeats it over n) a thread owns keys
// 2c and 2c + 1 of each 8-key n tile (c = lane % 4) for rows r and r + 8;
// one Philox4x32-10 call covers four keys of a row, so the two lanes of a
// block share the work of both rows through one shuffle. Indices are those of
// the whole problem (batch, query head, query, key), so the GPU drops exactly
// the weights the CPU kernels and the float64 reference drop, for any tile,
// split or warp layout.
//
//===----------------------------------------------------------------------===//
#include "passes/PhiloxEmitter.h"
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

void FlashKernelEmitter::loadDropoutState() {
  // [seed, offset]: the key is the seed's low and high words, counter word
  // 3 the offset's low word.
  Type i32 = b.getI32Type();
  Value seed = memref::LoadOp::create(b, dropoutState, ValueRange{im.c(0)});
  Value offset = memref::LoadOp::create(b, dropoutState, ValueRange{im.c(1)});
  Value c32 = arith::ConstantOp::create(b, b.getI64IntegerAttr(32));
  philoxKey0 = arith::TruncIOp::create(b, i32, seed);
  philoxKey1 =
      arith::TruncIOp::create(b, i32, arith::ShRUIOp::create(b, seed, c32));
  philoxOffset = arith::TruncIOp::create(b, i32, offset);
}

void FlashKernelEmitter::applyDropout(KvStep &st, int64_t mtLo, int64_t mtHi) {
  // Lanes 2c' and 2c' + 1 of a quad hold keys 4c' .. 4c' + 3 of each n
  // tile, one Philox block, for rows r and r + 8: the even lane draws the
  // block of row r, the odd lane that of row r + 8, and each passes the
  // pair of words the other needs (one draw per thread and n tile).
  namespace px = mlir::attn::philox;
  const int64_t sTiles = g.warpKeys() / 8;
  auto constant = [&](uint32_t x) -> Value {
    return arith::ConstantOp::create(
        b, b.getI32IntegerAttr(static_cast<int32_t>(x)));
  };
  Value threshold = constant(px::dropThreshold(g.dropoutP));
  Value keepScale = cf(static_cast<float>(1.0 / (1.0 - g.dropoutP)));
  Value zero = cf(0.0f);
  Value odd = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                    im.rem(lane, 2), im.c(0));
  Value key0 = im.add(im.add(st.tileKey0, st.keyOff), colPair);
  for (int64_t mt = mtLo; mt < mtHi; ++mt) {
    auto [h0, s0] = heads[mt * 2];
    auto [h1, s1] = heads[mt * 2 + 1];
    Value c1 = i32(select(odd, s1, s0));
    Value c2 = i32(im.add(im.mul(batch, g.heads), select(odd, h1, h0)));
    for (int64_t t = 0; t < sTiles; ++t) {
      Value c0 = i32(im.div(im.add(key0, im.c(t * 8)), im.c(4)));
      std::array<Value, 4> w = emitPhilox4x32_10(
          b, {c0, c1, c2, philoxOffset}, philoxKey0, philoxKey1, constant);
      // Even lanes keep words 0, 1 (their keys) and pass 2, 3 (the odd
      // lane's keys of row r); odd lanes keep 2, 3 and pass 0, 1.
      std::array<Value, 2> own = {select(odd, w[2], w[0]),
                                  select(odd, w[3], w[1])};
      std::array<Value, 2> got = {shuffleXor(select(odd, w[0], w[2]), 1),
                                  shuffleXor(select(odd, w[1], w[3]), 1)};
      for (int64_t half = 0; half < 2; ++half)
        for (int64_t j = 0; j < 2; ++j) {
          Value word = half == 0 ? select(odd, got[j], own[j])
                                 : select(odd, own[j], got[j]);
          Value keep = arith::CmpIOp::create(b, arith::CmpIPredicate::uge, word,
                                             threshold);
          Value &p = st.s[mt][t][2 * half + j];
          p = select(keep, fmul(p, keepScale), zero);
        }
    }
  }
}
