//===- Wgmma.cpp - S = Q·Kᵀ and O += P·V on wgmma (sm_90a) ----------------===//
//
// The block's warpgroups issue asynchronous wgmma.m64nNk16: Q·Kᵀ with both
// operands read from 128-byte-swizzled shared memory through descriptors,
// P·V with P from registers (the scores, rounded to 16 bits) and V from
// shared memory. One commit group per 64-row M tile lets the softmax of one
// tile overlap the tensor cores' work on the next.
//
//===----------------------------------------------------------------------===//
#include "passes/gpu/FlashKernel.h"

#include "dialect/ptx/PtxDialect.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::gpu_kernels;

Value FlashKernelEmitter::wgmmaDescriptor(Value addr, int64_t leadingBytes,
                                          int64_t strideBytes) {
  auto i64 = b.getI64Type();
  auto c64 = [&](int64_t v) {
    return arith::ConstantIntOp::create(b, i64, v).getResult();
  };
  Value a = arith::IndexCastUIOp::create(b, i64, addr);
  Value start = arith::AndIOp::create(b, arith::ShRUIOp::create(b, a, c64(4)),
                                      c64(0x3FFF));
  // Bits 16-29: leading byte offset >> 4; 32-45: stride byte offset >> 4;
  // 62-63: layout type 1 = 128-byte swizzle.
  int64_t fields = ((leadingBytes >> 4) << 16) | ((strideBytes >> 4) << 32) |
                   (int64_t(1) << 62);
  return arith::OrIOp::create(b, start, c64(fields));
}

namespace {
/// `values` as one LLVM struct: the register list the attn_ptx and NVVM
/// wgmma ops take and return.
Value packStruct(ImplicitLocOpBuilder &b, ArrayRef<Value> values) {
  SmallVector<Type> types;
  for (Value v : values)
    types.push_back(v.getType());
  Value s = LLVM::UndefOp::create(
      b, LLVM::LLVMStructType::getLiteral(b.getContext(), types));
  for (auto [i, v] : llvm::enumerate(values))
    s = LLVM::InsertValueOp::create(b, s, v, ArrayRef<int64_t>{int64_t(i)});
  return s;
}

void unpackStruct(ImplicitLocOpBuilder &b, Value s,
                  MutableArrayRef<Value> values) {
  for (auto [i, v] : llvm::enumerate(values))
    v = LLVM::ExtractValueOp::create(b, s, ArrayRef<int64_t>{int64_t(i)});
}
} // namespace

void FlashKernelEmitter::wgmma(SmallVectorImpl<Value> &acc, Value aDesc,
                               ArrayRef<Value> aRegs, Value bDesc,
                               bool transposeB, bool accumulate) {
  const int64_t n = 2 * acc.size();
  Value in = packStruct(b, acc), out;
  if (aRegs.empty()) {
    // Both operands in shared memory: the NVVM op (same PTX as before).
    auto et = g.bf16 ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
    out = NVVM::WgmmaMmaAsyncOp::create(
        b, in.getType(), in, aDesc, bDesc,
        NVVM::MMAShapeAttr::get(b.getContext(), 64, n, 16), et, et,
        NVVM::WGMMATypes::f32,
        accumulate ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
        NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row,
        transposeB ? NVVM::MMALayout::row : NVVM::MMALayout::col,
        NVVM::MMAIntOverflowAttr());
  } else {
    SmallVector<Value> a;
    for (Value r : aRegs)
      a.push_back(LLVM::BitcastOp::create(b, b.getI32Type(), r));
    auto op = ptx::WgmmaRegAOp::create(b, in.getType(), in, a, bDesc, n,
                                       g.bf16 ? "bf16" : "f16");
    op.setAccumulate(accumulate);
    op.setTransposeB(transposeB);
    out = op;
  }
  unpackStruct(b, out, acc);
}

void FlashKernelEmitter::pinRegisters(SmallVectorImpl<Value> &values,
                                      function_ref<Value(Value)> first) {
  // Chunks keep the operand lists short; the asm statements are volatile,
  // so the pins stay after the first one.
  constexpr size_t kChunk = 64;
  for (size_t lo = 0; lo < values.size(); lo += kChunk) {
    auto chunk = MutableArrayRef<Value>(values).slice(
        lo, std::min(kChunk, values.size() - lo));
    Value s = packStruct(b, chunk);
    unpackStruct(
        b, lo == 0 ? first(s) : ptx::PinOp::create(b, s.getType(), s).getRes(),
        chunk);
  }
}

void FlashKernelEmitter::wgmmaCommit() {
  NVVM::WgmmaGroupSyncAlignedOp::create(b);
}

void FlashKernelEmitter::wgmmaWait(int64_t pending,
                                   SmallVectorImpl<Value> &acc) {
  pinRegisters(acc, [&](Value s) -> Value {
    return ptx::WgmmaWaitGroupOp::create(b, s.getType(), pending, s);
  });
}

void FlashKernelEmitter::scoresOnWgmma(KvStep &st) {
  const int64_t MT = g.warpRowTiles, kSteps = g.headDim / 16;
  const int64_t sTiles = g.warpKeys() / 8;
  // K-major operands, 128-byte swizzle: 8-row groups 1024 bytes apart
  // (stride offset); a k16 step is 32 bytes into the 128-byte row of
  // its 64-column block.
  const int64_t atom = GpuFlashGeometry::kSwizzleAtomBytes;
  const int64_t blockBytesK = g.tileKv * 128, blockBytesQ = g.blockRows() * 128;
  Value kBase = im.add(smemBase, im.mul(st.stage, g.colBlocks() * blockBytesK));
  Value qBase =
      im.add(smemBase, im.c(2 * g.stages * g.colBlocks() * blockBytesK));
  SmallVector<SmallVector<Value>> acc(MT);
  Value undef = LLVM::UndefOp::create(b, b.getF32Type());
  for (auto &a : acc)
    a.assign(sTiles * 4, undef);
  NVVM::WgmmaFenceAlignedOp::create(b);
  // One commit group per M tile: the softmax of tile 0 overlaps the
  // tensor cores' work on tile 1 (and tile 1's softmax tile 0's P·V).
  for (int64_t mt = 0; mt < MT; ++mt) {
    for (int64_t kc = 0; kc < kSteps; ++kc) {
      int64_t colOff = (kc % 4) * 32;
      Value bDesc = wgmmaDescriptor(
          im.add(kBase, im.c((kc / 4) * blockBytesK + colOff)), 16, atom);
      Value aDesc =
          wgmmaDescriptor(im.add(im.add(qBase, im.mul(mTile(mt), 64 * 128)),
                                 im.c((kc / 4) * blockBytesQ + colOff)),
                          16, atom);
      wgmma(acc[mt], aDesc, {}, bDesc, /*transposeB=*/false,
            /*accumulate=*/kc > 0);
    }
    wgmmaCommit();
  }
  st.sPending = std::move(acc);
}

void FlashKernelEmitter::pvOnWgmma(KvStep &st) {
  const int64_t MT = g.warpRowTiles, oTiles = g.dvPad() / 8;
  const int64_t sTiles = g.warpKeys() / 8;
  // V is the B operand read N-major (d contiguous): 64-column blocks
  // tileKv * 128 bytes apart (leading offset), 8-key groups 1024 bytes
  // apart (stride offset); a k16 step is 16 key rows = 2048 bytes.
  const int64_t blockBytes = g.tileKv * 128;
  Value vBase = im.add(smemBase, im.c(g.stages * g.colBlocks() * blockBytes));
  vBase = im.add(vBase, im.mul(st.stage, g.colBlocks() * blockBytes));
  for (int64_t mt = 0; mt < MT; ++mt) {
    // Oldest pending group: S of this m tile (later S tiles and the
    // earlier tiles' P·V may still run).
    wgmmaWait(MT - 1, st.sPending[mt]);
    for (int64_t t = 0; t < sTiles; ++t)
      st.s[mt][t].assign(st.sPending[mt].begin() + t * 4,
                         st.sPending[mt].begin() + t * 4 + 4);
    scoresToProbabilities(st, mt, mt + 1);
    SmallVector<Value> regs;
    for (auto &tileO : st.o[mt])
      regs.append(tileO.begin(), tileO.end());
    const int64_t oCount = regs.size();
    for (int64_t kk = 0; kk < sTiles / 2; ++kk) {
      auto &lo = st.s[mt][2 * kk], &hi = st.s[mt][2 * kk + 1];
      for (Value x : {packPair(lo[0], lo[1]), packPair(lo[2], lo[3]),
                      packPair(hi[0], hi[1]), packPair(hi[2], hi[3])})
        regs.push_back(LLVM::BitcastOp::create(b, b.getI32Type(), x));
    }
    // P and the rescaled O were written by ordinary instructions.
    pinRegisters(regs, [&](Value s) -> Value {
      return ptx::WgmmaFenceOp::create(b, s.getType(), s);
    });
    SmallVector<Value> acc(regs.begin(), regs.begin() + oCount);
    for (int64_t kk = 0; kk < sTiles / 2; ++kk) {
      Value bDesc = wgmmaDescriptor(im.add(vBase, im.c(kk * 2048)), blockBytes,
                                    GpuFlashGeometry::kSwizzleAtomBytes);
      auto first = regs.begin() + oCount + kk * 4;
      wgmma(acc, Value(), SmallVector<Value>(first, first + 4), bDesc,
            /*transposeB=*/true, /*accumulate=*/true);
    }
    wgmmaCommit();
    for (int64_t t = 0; t < oTiles; ++t)
      st.o[mt][t].assign(acc.begin() + t * 4, acc.begin() + t * 4 + 4);
  }
  SmallVector<Value> all = flatten(st.o);
  wgmmaWait(0, all);
  unflatten(st.o, all);
}
