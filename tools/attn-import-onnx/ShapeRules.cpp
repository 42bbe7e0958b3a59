//===- ShapeRules.cpp - ONNX's shape rules, shared by folding and emitting ===//
#include "tools/attn-import-onnx/Importer.h"

#include "runtime/Buffer.h"

#include <algorithm>

using namespace mlir::attn::onnx_import;
namespace rt = mlir::attn::rt;
using Shape = llvm::SmallVector<int64_t, 4>;

namespace {
int64_t product(llvm::ArrayRef<int64_t> s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}
} // namespace

llvm::Expected<Shape> mlir::attn::onnx_import::reshapeTarget(
    const onnx::NodeProto &node, llvm::ArrayRef<int64_t> in,
    llvm::ArrayRef<int64_t> target, bool allowZero) {
  Shape out;
  int inferred = -1;
  for (auto [i, d] : llvm::enumerate(target)) {
    if (d == 0 && !allowZero) {
      if (i >= in.size())
        return nodeError(node, "shape copies dim " + llvm::Twine(i) +
                                   " of a rank-" + llvm::Twine(in.size()) +
                                   " input");
      out.push_back(in[i]);
    } else if (d == -1) {
      if (inferred >= 0)
        return nodeError(node, "shape has two -1 dims");
      inferred = i;
      out.push_back(1);
    } else if (d < 0) {
      return nodeError(node, "shape has a negative dim " + llvm::Twine(d));
    } else {
      out.push_back(d);
    }
  }
  int64_t known = product(out), total = product(in);
  if (inferred >= 0) {
    if (known == 0 || total % known)
      return nodeError(node, "cannot reshape " + rt::shapeString(in) + " to " +
                                 rt::shapeString(target));
    out[inferred] = total / known;
  }
  if (product(out) != total)
    return nodeError(node, "cannot reshape " + rt::shapeString(in) + " (" +
                               llvm::Twine(total) + " elements) to " +
                               rt::shapeString(out));
  return out;
}

llvm::Expected<Shape>
mlir::attn::onnx_import::unsqueezeShape(const onnx::NodeProto &node,
                                        llvm::ArrayRef<int64_t> in,
                                        llvm::ArrayRef<int64_t> axes) {
  int64_t rank = in.size() + axes.size();
  Shape norm;
  for (int64_t a : axes) {
    int64_t n = a < 0 ? a + rank : a;
    if (n < 0 || n >= rank || llvm::is_contained(norm, n))
      return nodeError(node, "bad axis " + llvm::Twine(a));
    norm.push_back(n);
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i)
    out.push_back(llvm::is_contained(norm, i) ? 1 : in[next++]);
  return out;
}

llvm::Expected<Shape>
mlir::attn::onnx_import::squeezeShape(const onnx::NodeProto &node,
                                      llvm::ArrayRef<int64_t> in,
                                      llvm::ArrayRef<int64_t> axes) {
  Shape norm;
  for (int64_t a : axes) {
    auto n = normalizeAxis(node, a, in.size());
    if (!n)
      return n.takeError();
    if (in[*n] != 1)
      return nodeError(node, "cannot squeeze dim " + llvm::Twine(a) +
                                 " of size " + llvm::Twine(in[*n]));
    norm.push_back(*n);
  }
  Shape out;
  for (auto [i, d] : llvm::enumerate(in))
    if (axes.empty() ? d != 1 : !llvm::is_contained(norm, int64_t(i)))
      out.push_back(d);
  return out;
}

llvm::Expected<llvm::SmallVector<AxisSlice, 4>>
mlir::attn::onnx_import::sliceParams(const onnx::NodeProto &node,
                                     llvm::ArrayRef<int64_t> shape,
                                     llvm::ArrayRef<int64_t> starts,
                                     llvm::ArrayRef<int64_t> ends,
                                     llvm::ArrayRef<int64_t> axes,
                                     llvm::ArrayRef<int64_t> steps) {
  llvm::SmallVector<AxisSlice, 4> out;
  for (int64_t d : shape)
    out.push_back({0, d, 1});
  if (starts.size() != ends.size() ||
      (!axes.empty() && axes.size() != starts.size()) ||
      (!steps.empty() && steps.size() != starts.size()))
    return nodeError(node, "starts, ends, axes and steps differ in length");
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t axis = axes.empty() ? i : axes[i];
    auto a = normalizeAxis(node, axis, shape.size());
    if (!a)
      return a.takeError();
    int64_t dim = shape[*a], step = steps.empty() ? 1 : steps[i];
    if (step == 0)
      return nodeError(node, "step 0");
    auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0)
        v += dim;
      return std::clamp(v, lo, hi);
    };
    int64_t s, e;
    if (step > 0) {
      s = clampIndex(starts[i], 0, dim);
      e = clampIndex(ends[i], 0, dim);
    } else {
      s = clampIndex(starts[i], -1, dim - 1);
      e = clampIndex(ends[i], -1, dim - 1);
      // INT_MIN-style ends mean "before the first element".
      if (ends[i] < -dim)
        e = -1;
    }
    int64_t size = step > 0 ? (e > s ? (e - s + step - 1) / step : 0)
                            : (s > e ? (s - e - step - 1) / -step : 0);
    out[*a] = {s, size, step};
  }
  return out;
}
