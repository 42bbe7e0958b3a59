//===- RegionInterpreter.h - score_mod/mask_mod for the reference -*- C++
//-*-===//
//
// The float64 reference evaluates an attn.attention's score_mod and
// mask_mod regions by interpreting them: each region is compiled once into
// a straight-line program over the arith and math ops, which then runs per
// score without MLIR (the signature outlives the compile's context).
// Floats are evaluated in double, integers exactly at their bit width
// (index as 64 bits), i1 as 0/1. Integer division by zero yields 0 (the
// kernels' result is undefined there).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_REGIONINTERPRETER_H
#define ATTN_RUNTIME_REGIONINTERPRETER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace mlir {
class Region;
namespace attn {
class AttentionOp;
} // namespace attn
} // namespace mlir

namespace mlir::attn::rt {

struct KernelSignature;

class RegionProgram {
public:
  /// One value: a double for floats, an integer of `width` bits otherwise.
  struct Value {
    double f = 0;
    int64_t i = 0;
  };
  struct Inst;

  /// Compiles the single block of `region`; fails naming the first op or
  /// captured value it cannot interpret.
  static llvm::Expected<std::shared_ptr<const RegionProgram>>
  compile(Region &region);

  /// Runs the program with the block arguments `args` (floats as doubles,
  /// integers and indices as exact integers) and returns the yielded value
  /// as a double (i1: 0 or 1).
  double run(llvm::ArrayRef<double> args) const;

  ~RegionProgram();

private:
  RegionProgram();
  std::vector<Inst> insts;
  std::vector<bool> argIsFloat;
  std::vector<unsigned> argWidth;
  unsigned numSlots = 0;
  unsigned result = 0;
  bool resultIsFloat = false;
  unsigned resultWidth = 0;
};

/// Compiles `op`'s score_mod and mask_mod regions into `sig` (the
/// programs, or `regionError` naming what cannot be interpreted).
void attachRegionPrograms(AttentionOp op, KernelSignature &sig);

} // namespace mlir::attn::rt

#endif
