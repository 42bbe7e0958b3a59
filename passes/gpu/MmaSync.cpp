//===- MmaSync.cpp - S = Q·Kᵀ and O += P·V on mma.sync (sm_80+) -----------===//
//
// Each warp multiplies its 16-row m tiles with ldmatrix fragments of the
// K/V tiles in (padded) shared memory: K rows read plainly and V rows read
// transposed are both B fragments of mma.m16n8k16, and the score
// accumulators of two 8-key n tiles, rounded to 16 bits, are the A fragment
// of P·V (see the fragment facts in FlashKernel.cpp).
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

void FlashKernelEmitter::scoresOnMmaSync(KvStep &st) {
  const int64_t MT = g.warpRowTiles, warpRows = g.warpRows();
  const int64_t D = g.dPad(), kSteps = (D + 15) / 16;
  const int64_t sTiles = g.warpKeys() / 8;
  for (int64_t kc = 0; kc < kSteps; ++kc) {
    // The last step of an odd multiple of 8 is k8: the low matrices only
    // (ldmatrix.x2, lanes 0-15 address them), no column past D is read.
    const bool k8 = 16 * kc + 8 == D;
    const int64_t count = k8 ? 2 : 4;
    SmallVector<SmallVector<Value, 4>> qa(MT);
    for (int64_t mt = 0; mt < MT; ++mt) {
      if (!g.qInShared()) {
        qa[mt] = qFrag[kc];
        continue;
      }
      // Matrices: (rows 0-7, k lo), (rows 8-15, k lo), (0-7, hi), (8-15, hi).
      Value row =
          im.add(im.mul(rw, warpRows), im.add(im.rem(lane, 16), im.c(mt * 16)));
      Value col = im.add(im.mul(im.div(lane, 16), 8), im.c(kc * 16));
      qa[mt] = ldmatrix4(qSmem, {row, col}, /*transpose=*/false, count);
    }
    for (int64_t t = 0; t < sTiles; t += 2) {
      // Matrices: (tile t, k lo), (t, k hi), (t+1, k lo), (t+1, k hi); k8:
      // (t, k lo), (t+1, k lo).
      Value key = im.add(im.add(st.keyOff, im.mul(im.div(st.m8, 2), 8)),
                         im.add(st.l8, im.c(t * 8)));
      Value col = im.add(im.mul(im.rem(st.m8, 2), 8), im.c(kc * 16));
      if (k8) {
        key = im.add(im.add(st.keyOff, im.mul(im.rem(st.m8, 2), 8)),
                     im.add(st.l8, im.c(t * 8)));
        col = im.c(kc * 16);
      }
      auto frag =
          ldmatrix4(kSmem, {st.stage, key, col}, /*transpose=*/false, count);
      for (int64_t mt = 0; mt < MT; ++mt) {
        if (k8) {
          mma(qa[mt], {frag[0]}, st.s[mt][t]);
          mma(qa[mt], {frag[1]}, st.s[mt][t + 1]);
          continue;
        }
        mma(qa[mt], {frag[0], frag[1]}, st.s[mt][t]);
        mma(qa[mt], {frag[2], frag[3]}, st.s[mt][t + 1]);
      }
    }
  }
}

void FlashKernelEmitter::pvOnMmaSync(KvStep &st) {
  const int64_t MT = g.warpRowTiles, oTiles = g.dvPad() / 8;
  const int64_t sTiles = g.warpKeys() / 8;
  // O += P·V: the score accumulators of key tiles 2kk, 2kk+1 are the A
  // fragment of keys [16kk, 16kk + 16).
  for (int64_t kk = 0; kk < sTiles / 2; ++kk) {
    SmallVector<SmallVector<Value, 4>> pFrag;
    for (int64_t mt = 0; mt < MT; ++mt) {
      auto &lo = st.s[mt][2 * kk], &hi = st.s[mt][2 * kk + 1];
      pFrag.push_back({packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                       packPair(hi[0], hi[1]), packPair(hi[2], hi[3])});
    }
    for (int64_t t = 0; t < oTiles; t += 2) {
      // Matrices: (keys lo, d tile t), (keys hi, t), (lo, t+1), (hi, t+1).
      Value key = im.add(im.add(st.keyOff, im.c(kk * 16)),
                         im.add(im.mul(im.rem(st.m8, 2), 8), st.l8));
      // An odd last d tile: (lo, t), (hi, t) only (ldmatrix.x2).
      const bool single = t + 1 == oTiles;
      Value col = im.mul(im.add(im.div(st.m8, 2), im.c(t)), 8);
      auto frag = ldmatrix4(vSmem, {st.stage, key, col}, /*transpose=*/true,
                            single ? 2 : 4);
      for (int64_t mt = 0; mt < MT; ++mt) {
        mma(pFrag[mt], {frag[0], frag[1]}, st.o[mt][t]);
        if (!single)
          mma(pFrag[mt], {frag[2], frag[3]}, st.o[mt][t + 1]);
      }
    }
  }
}
