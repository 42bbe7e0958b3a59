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
  return map;
}
