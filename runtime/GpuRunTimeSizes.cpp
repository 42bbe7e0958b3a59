//===- GpuRunTimeSizes.cpp - launch plans of run-time sizes ---------------===//
//
// A CUDA kernel compiled with `?` dims carries its grids and size
// parameters as expressions of the buffers' dims (GpuExpr, read from the
// host code in GpuLaunchPlan.cpp) and tensor maps whose run-time dims come
// from their source buffers. This file evaluates both for the buffers of
// one call, on the host: launchAll (GpuKernel.cpp) uses it per call, and
// the tests check it without a device.
//
//===----------------------------------------------------------------------===//
#include "passes/GpuFlashKernel.h"
#include "runtime/Errors.h"
#include "runtime/GpuKernel.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::rt;

namespace {

const char *opName(GpuExpr::Op op) {
  switch (op) {
  case GpuExpr::Op::Add:
    return " + ";
  case GpuExpr::Op::Sub:
    return " - ";
  case GpuExpr::Op::Mul:
    return " * ";
  case GpuExpr::Op::DivU:
  case GpuExpr::Op::DivS:
    return " / ";
  case GpuExpr::Op::RemU:
  case GpuExpr::Op::RemS:
    return " % ";
  case GpuExpr::Op::CeilDivS:
    return "ceildiv";
  case GpuExpr::Op::MinS:
    return "min";
  case GpuExpr::Op::MaxS:
    return "max";
  case GpuExpr::Op::CmpEq:
    return " == ";
  case GpuExpr::Op::CmpNe:
    return " != ";
  case GpuExpr::Op::CmpSlt:
    return " < ";
  case GpuExpr::Op::CmpSle:
    return " <= ";
  case GpuExpr::Op::CmpSgt:
    return " > ";
  case GpuExpr::Op::CmpSge:
    return " >= ";
  case GpuExpr::Op::KvSplits:
    return "kv_splits";
  case GpuExpr::Op::Const:
  case GpuExpr::Op::Dim:
    break;
  }
  return "?";
}

/// Evaluates every node for buffers of `shapes` (split counts for
/// `numSms` SMs, when positive); the first size below 1 or division by
/// zero is an error naming it.
llvm::Expected<std::vector<int64_t>>
evaluate(const GpuKernelCode &code,
         llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes, int64_t numSms) {
  std::vector<int64_t> values(code.exprs.size());
  for (auto [i, e] : llvm::enumerate(code.exprs)) {
    int64_t x = e.lhs >= 0 ? values[e.lhs] : 0;
    int64_t y = e.rhs >= 0 ? values[e.rhs] : 0;
    bool divides = e.op == GpuExpr::Op::DivU || e.op == GpuExpr::Op::DivS ||
                   e.op == GpuExpr::Op::RemU || e.op == GpuExpr::Op::RemS ||
                   e.op == GpuExpr::Op::CeilDivS;
    if (divides && y == 0)
      return makeError("launch plan: " + code.exprString(int(i)) +
                       " divides by zero");
    int64_t &r = values[i];
    switch (e.op) {
    case GpuExpr::Op::Const:
      r = e.value;
      break;
    case GpuExpr::Op::Dim: {
      if (e.value >= int64_t(shapes.size()) ||
          e.dim >= int64_t(shapes[e.value].size()))
        return makeError("launch plan: " + code.exprString(int(i)) +
                         " names no buffer dim");
      r = shapes[e.value][e.dim];
      // The kernels need one row and one key at least (the last tile is
      // clamped to the last element); empty problems run on the CPU.
      if (r < 1)
        return makeError("run-time size " + code.exprString(int(i)) + " = " +
                         llvm::Twine(r) +
                         ": CUDA kernels need non-empty sizes (zero-sized "
                         "problems run on the CPU)");
      break;
    }
    case GpuExpr::Op::Add:
      r = x + y;
      break;
    case GpuExpr::Op::Sub:
      r = x - y;
      break;
    case GpuExpr::Op::Mul:
      r = x * y;
      break;
    case GpuExpr::Op::DivU:
      r = int64_t(uint64_t(x) / uint64_t(y));
      break;
    case GpuExpr::Op::DivS:
      r = x / y;
      break;
    case GpuExpr::Op::RemU:
      r = int64_t(uint64_t(x) % uint64_t(y));
      break;
    case GpuExpr::Op::RemS:
      r = x % y;
      break;
    case GpuExpr::Op::CeilDivS:
      r = x / y + ((x % y != 0) && ((x < 0) == (y < 0)) ? 1 : 0);
      break;
    case GpuExpr::Op::MinS:
      r = std::min(x, y);
      break;
    case GpuExpr::Op::MaxS:
      r = std::max(x, y);
      break;
    case GpuExpr::Op::CmpEq:
      r = x == y;
      break;
    case GpuExpr::Op::CmpNe:
      r = x != y;
      break;
    case GpuExpr::Op::CmpSlt:
      r = x < y;
      break;
    case GpuExpr::Op::CmpSle:
      r = x <= y;
      break;
    case GpuExpr::Op::CmpSgt:
      r = x > y;
      break;
    case GpuExpr::Op::CmpSge:
      r = x >= y;
      break;
    case GpuExpr::Op::KvSplits:
      r = gpuKvSplits(x, y, numSms > 0 ? numSms : e.value);
      break;
    }
  }
  return values;
}

} // namespace

std::string GpuKernelCode::exprString(int node) const {
  if (node < 0 || node >= int(exprs.size()))
    return "?";
  const GpuExpr &e = exprs[node];
  switch (e.op) {
  case GpuExpr::Op::Const:
    return std::to_string(e.value);
  case GpuExpr::Op::Dim: {
    std::string buffer = e.value < int64_t(bufferNames.size())
                             ? bufferNames[e.value]
                             : "buffer " + std::to_string(e.value);
    return buffer + ".dim" + std::to_string(e.dim);
  }
  case GpuExpr::Op::CeilDivS:
  case GpuExpr::Op::MinS:
  case GpuExpr::Op::MaxS:
  case GpuExpr::Op::KvSplits:
    return std::string(opName(e.op)) + "(" + exprString(e.lhs) + ", " +
           exprString(e.rhs) + ")";
  default:
    return "(" + exprString(e.lhs) + opName(e.op) + exprString(e.rhs) + ")";
  }
}

llvm::Expected<std::vector<GpuLaunch>>
GpuKernelCode::resolveLaunches(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes,
                               int64_t numSms,
                               std::vector<int64_t> *scratch) const {
  auto values = evaluate(*this, shapes, numSms);
  if (!values)
    return values.takeError();
  for (const GpuCheck &c : checks) {
    if ((*values)[c.node])
      continue;
    const GpuExpr &cmp = exprs[c.node];
    // "key.dim2 = 129", or a constant alone.
    auto side = [&](int node) {
      std::string value = std::to_string((*values)[node]);
      if (exprs[node].op == GpuExpr::Op::Const)
        return value;
      return exprString(node) + " = " + value;
    };
    return makeError("run-time sizes: " + c.message + ", but " + side(cmp.lhs) +
                     " and " + side(cmp.rhs));
  }
  std::vector<GpuLaunch> resolved = launches;
  static const char *axes[3] = {"x", "y", "z"};
  const int64_t limits[3] = {std::numeric_limits<int32_t>::max(), 65535, 65535};
  for (GpuLaunch &l : resolved) {
    if (l.condExpr >= 0) {
      l.enabled = (*values)[l.condExpr] != 0;
      l.condExpr = -1;
    }
    // A skipped launch's grid may be anything (none is checked).
    for (int d = 0; d < 3 && l.enabled; ++d) {
      if (l.gridExpr[d] < 0)
        continue;
      int64_t v = (*values)[l.gridExpr[d]];
      if (v < 1 || v > limits[d])
        return makeError("launching " + l.kernel + ": grid " + axes[d] + " = " +
                         exprString(l.gridExpr[d]) + " = " + llvm::Twine(v) +
                         " is outside CUDA's [1, " + llvm::Twine(limits[d]) +
                         "]");
      l.grid[d] = unsigned(v);
      l.gridExpr[d] = -1;
    }
    for (GpuParam &p : l.params)
      if (p.kind == GpuParam::Kind::Expr)
        p = {GpuParam::Kind::I64, 0, uint64_t((*values)[p.index])};
  }
  if (scratch) {
    scratch->clear();
    for (size_t i = 0; i < scratchBytes.size(); ++i)
      scratch->push_back(scratchSize(i, *values));
  }
  return resolved;
}

bool GpuTensorMap::runTime() const {
  return llvm::is_contained(dims, 0) || llvm::is_contained(strides, 0);
}

llvm::Error GpuTensorMap::resolve(llvm::ArrayRef<int64_t> sourceShape,
                                  std::vector<uint64_t> &outDims,
                                  std::vector<uint64_t> &outStrides) const {
  if (!runTime()) {
    outDims = dims;
    outStrides = strides;
    return llvm::Error::success();
  }
  // The map is the dense source, innermost dim first (verified when the
  // kernel was compiled: GpuLaunchPlan.cpp checks the rank).
  if (sourceShape.size() != dims.size())
    return makeError("the tensor map over " + role + " has rank " +
                     llvm::Twine(dims.size()) + ", the buffer " +
                     llvm::Twine(sourceShape.size()));
  outDims.assign(dims.size(), 0);
  outStrides.clear();
  uint64_t stride = dataType == cuda::kTensorMapFloat16 ||
                            dataType == cuda::kTensorMapBFloat16
                        ? 2
                        : 4;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t size = sourceShape[sourceShape.size() - 1 - i];
    if (dims[i] != 0 && uint64_t(size) != dims[i])
      return makeError(role + ": dim " +
                       llvm::Twine(sourceShape.size() - 1 - i) + " is " +
                       llvm::Twine(size) + ", the kernel's tensor map needs " +
                       llvm::Twine(dims[i]));
    if (size < 1 || uint64_t(size) > (uint64_t(1) << 32))
      return makeError(
          role + ": dim " + llvm::Twine(sourceShape.size() - 1 - i) + " = " +
          llvm::Twine(size) + " is outside the tensor map's [1, 2^32]");
    outDims[i] = uint64_t(size);
    stride *= uint64_t(size);
    if (i + 1 < dims.size()) {
      if (stride >= (uint64_t(1) << 40))
        return makeError(role + ": a byte stride of " + llvm::Twine(stride) +
                         " is past the tensor map's 2^40");
      outStrides.push_back(stride);
    }
  }
  return llvm::Error::success();
}
