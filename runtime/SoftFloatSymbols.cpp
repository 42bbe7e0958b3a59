//===- SoftFloatSymbols.cpp - f16/bf16 conversion helpers for JIT code ----===//
#include "runtime/SoftFloatSymbols.h"
#include "runtime/HalfFloat.h"

#include <cstring>

using namespace mlir::attn::rt;

namespace {

// The x86-64 psABI passes and returns _Float16 and __bf16 in XMM
// registers, which is what LLVM's calls expect: the helpers must use those
// types, not uint16_t.
__bf16 truncSfBf2(float f) {
  uint16_t bits = floatToBFloat(f);
  __bf16 r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

_Float16 truncSfHf2(float f) {
  uint16_t bits = floatToHalf(f);
  _Float16 r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

float extendHfSf2(_Float16 h) {
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return halfToFloat(bits);
}

/// MLIR's memref.copy between buffers not provably contiguous lowers to a
/// call of `memrefCopy` (mlir_c_runner_utils, which the runtime does not
/// link): a layer's result copied into a strided output buffer. The same
/// contract: element size, then the unranked source and destination
/// descriptors {rank, {allocated, aligned, offset, sizes[rank],
/// strides[rank]}}.
struct UnrankedDescriptor {
  int64_t rank;
  int64_t *ranked;
};

void memrefCopy(int64_t elemSize, UnrankedDescriptor *src,
                UnrankedDescriptor *dst) {
  int64_t rank = src->rank;
  auto base = [&](UnrankedDescriptor *d) {
    return reinterpret_cast<char *>(d->ranked[1]) + d->ranked[2] * elemSize;
  };
  const int64_t *sizes = src->ranked + 3;
  const int64_t *srcStrides = sizes + rank,
                *dstStrides = dst->ranked + 3 + rank;
  char *from = base(src), *to = base(dst);
  if (rank == 0) {
    std::memcpy(to, from, elemSize);
    return;
  }
  // Row by row: the innermost dim in one memcpy where both are contiguous.
  int64_t inner = sizes[rank - 1], rows = 1;
  for (int64_t i = 0; i + 1 < rank; ++i)
    rows *= sizes[i];
  if (inner == 0)
    return;
  int64_t si = srcStrides[rank - 1], di = dstStrides[rank - 1];
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rest = row, so = 0, doff = 0;
    for (int64_t i = rank - 2; i >= 0; --i) {
      int64_t idx = rest % sizes[i];
      rest /= sizes[i];
      so += idx * srcStrides[i];
      doff += idx * dstStrides[i];
    }
    if (si == 1 && di == 1) {
      std::memcpy(to + doff * elemSize, from + so * elemSize, inner * elemSize);
      continue;
    }
    for (int64_t c = 0; c < inner; ++c)
      std::memcpy(to + (doff + c * di) * elemSize,
                  from + (so + c * si) * elemSize, elemSize);
  }
}

} // namespace

llvm::orc::SymbolMap
mlir::attn::rt::softFloatSymbols(llvm::orc::MangleAndInterner interner) {
  using llvm::orc::ExecutorSymbolDef;
  llvm::orc::SymbolMap map;
  map[interner("__truncsfbf2")] =
      ExecutorSymbolDef::fromPtr(&truncSfBf2, llvm::JITSymbolFlags::Exported);
  map[interner("__truncsfhf2")] =
      ExecutorSymbolDef::fromPtr(&truncSfHf2, llvm::JITSymbolFlags::Exported);
  map[interner("__extendhfsf2")] =
      ExecutorSymbolDef::fromPtr(&extendHfSf2, llvm::JITSymbolFlags::Exported);
  map[interner("memrefCopy")] =
      ExecutorSymbolDef::fromPtr(&memrefCopy, llvm::JITSymbolFlags::Exported);
  return map;
}
