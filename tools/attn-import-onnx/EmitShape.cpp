//===- EmitShape.cpp - layout ops: Transpose, Reshape, Slice, Concat, ... ===//
//
// Reshapes are tensor.collapse_shape / expand_shape pairs (head split and
// merge as attn-raise-attention reads them), Transpose linalg.transpose,
// Split/Slice tensor.extract_slice, Concat insert_slice chains, Expand a
// broadcasting generic, Tile an expand + broadcast + collapse. Shape and
// Size of static tensors are constants.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <numeric>

using namespace mlir;
using namespace mlir::attn::onnx_import;
using Shape = llvm::SmallVector<int64_t, 4>;

namespace {

Type elemOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

llvm::Error emitShapeOf(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(s, im.inputShape(node, 0));
  ConstTensor r{Elem::I64, {static_cast<int64_t>(s->size())}, {}};
  int64_t n = 1;
  for (int64_t d : *s)
    r.data.push_back(d), n *= d;
  if (node.op_type() == "Size")
    r = ConstTensor{Elem::I64, {}, {double(n)}};
  else if (im.model.opset >= 15) { // start / end attributes
    ONNX_TRY(start, intAttr(node, "start", 0));
    ONNX_TRY(end, intAttr(node, "end", int64_t(s->size())));
    auto p = sliceParams(node, {int64_t(s->size())}, {*start}, {*end}, {}, {});
    if (!p)
      return p.takeError();
    r.data.assign(r.data.begin() + (*p)[0].start,
                  r.data.begin() + (*p)[0].start + (*p)[0].size);
    r.shape = {(*p)[0].size};
  }
  im.setOutput(node, 0, r);
  return llvm::Error::success();
}

llvm::Error emitTranspose(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  Shape s = shapeOf(*x);
  ONNX_TRY(permAttr, intsAttr(node, "perm"));
  Shape perm(s.size());
  std::iota(perm.rbegin(), perm.rend(), 0);
  if (*permAttr)
    perm = **permAttr;
  Shape sorted(perm);
  llvm::sort(sorted);
  for (auto [i, p] : llvm::enumerate(sorted))
    if (p != int64_t(i) || perm.size() != s.size())
      return nodeError(node, "perm is not a permutation of the input's dims");
  Shape out;
  for (int64_t p : perm)
    out.push_back(s[p]);
  Value init = im.empty(out, elemOf(*x));
  im.setOutput(
      node, 0,
      linalg::TransposeOp::create(im.b, im.loc, *x, init, perm).getResult()[0]);
  return llvm::Error::success();
}

llvm::Error emitReshapeLike(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  Shape s = shapeOf(*x);
  llvm::StringRef op = node.op_type();
  llvm::Expected<Shape> out = Shape();
  if (op == "Reshape") {
    ONNX_TRY(target, im.intsInput(node, 1));
    ONNX_TRY(allowZero, intAttr(node, "allowzero", 0));
    out = reshapeTarget(node, s, *target, *allowZero);
  } else if (op == "Flatten") {
    ONNX_TRY(axis, intAttr(node, "axis", 1));
    int64_t a = *axis < 0 ? *axis + s.size() : *axis;
    if (a < 0 || a > int64_t(s.size()))
      return nodeError(node, "axis out of range");
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < int64_t(s.size()); ++i)
      (i < a ? outer : inner) *= s[i];
    out = Shape{outer, inner};
  } else {
    Shape axes;
    if (im.model.opset >= 13 && im.hasInput(node, 1)) {
      ONNX_TRY(a, im.intsInput(node, 1));
      axes = *a;
    } else if (im.model.opset < 13) {
      ONNX_TRY(a, intsAttr(node, "axes"));
      axes = a->value_or(Shape());
    }
    out = op == "Unsqueeze" ? unsqueezeShape(node, s, axes)
                            : squeezeShape(node, s, axes);
  }
  if (!out)
    return out.takeError();
  im.setOutput(node, 0, im.reshape(*x, *out));
  return llvm::Error::success();
}

Value extractSlice(Importer &im, Value x, llvm::ArrayRef<AxisSlice> p) {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  Shape out;
  for (const AxisSlice &s : p) {
    offsets.push_back(im.b.getIndexAttr(s.start));
    sizes.push_back(im.b.getIndexAttr(s.size));
    strides.push_back(im.b.getIndexAttr(s.step));
    out.push_back(s.size);
  }
  auto type = RankedTensorType::get(out, elemOf(x));
  return tensor::ExtractSliceOp::create(im.b, im.loc, type, x, offsets, sizes,
                                        strides);
}

llvm::Error emitSlice(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  Shape starts, ends, axes, steps;
  if (im.model.opset >= 10) {
    ONNX_TRY(s, im.intsInput(node, 1));
    ONNX_TRY(e, im.intsInput(node, 2));
    starts = *s, ends = *e;
    if (im.hasInput(node, 3)) {
      ONNX_TRY(a, im.intsInput(node, 3));
      axes = *a;
    }
    if (im.hasInput(node, 4)) {
      ONNX_TRY(st, im.intsInput(node, 4));
      steps = *st;
    }
  } else {
    ONNX_TRY(s, intsAttr(node, "starts"));
    ONNX_TRY(e, intsAttr(node, "ends"));
    ONNX_TRY(a, intsAttr(node, "axes"));
    starts = s->value_or(Shape()), ends = e->value_or(Shape());
    axes = a->value_or(Shape());
  }
  ONNX_TRY(p, sliceParams(node, shapeOf(*x), starts, ends, axes, steps));
  if (llvm::any_of(*p, [](const AxisSlice &s) { return s.step < 0; }))
    return nodeError(node, "negative steps (reversal) are not supported");
  im.setOutput(node, 0, extractSlice(im, *x, *p));
  return llvm::Error::success();
}

llvm::Error emitSplit(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  Shape s = shapeOf(*x);
  ONNX_TRY(axisAttr, intAttr(node, "axis", 0));
  ONNX_TRY(axis, normalizeAxis(node, *axisAttr, s.size()));
  Shape parts;
  if (im.model.opset >= 13 && im.hasInput(node, 1)) {
    ONNX_TRY(p, im.intsInput(node, 1));
    parts = *p;
  } else if (im.model.opset < 13) {
    ONNX_TRY(p, intsAttr(node, "split"));
    parts = p->value_or(Shape());
  }
  int64_t n = node.output_size();
  if (parts.empty()) { // equal parts (the last one smaller, opset 18)
    int64_t each = (s[*axis] + n - 1) / n;
    for (int64_t i = 0; i < n; ++i)
      parts.push_back(std::min(each, s[*axis] - i * each));
  }
  int64_t total = 0;
  for (int64_t p : parts)
    total += p;
  if (int64_t(parts.size()) != n || total != s[*axis])
    return nodeError(node, "split sizes do not cover dim " +
                               llvm::Twine(*axis) + " of size " +
                               llvm::Twine(s[*axis]));
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    llvm::SmallVector<AxisSlice, 4> p;
    for (int64_t d : s)
      p.push_back({0, d, 1});
    p[*axis] = {offset, parts[i], 1};
    offset += parts[i];
    im.setOutput(node, i, extractSlice(im, *x, p));
  }
  return llvm::Error::success();
}

llvm::Error emitConcat(Importer &im, const onnx::NodeProto &node) {
  SmallVector<Value> ins;
  for (int i = 0; i < node.input_size(); ++i) {
    ONNX_TRY(v, im.input(node, i));
    ins.push_back(*v);
  }
  Shape ref = shapeOf(ins.front());
  ONNX_TRY(axisAttr, intAttr(node, "axis", 0));
  ONNX_TRY(axis, normalizeAxis(node, *axisAttr, ref.size()));
  ref[*axis] = 0;
  int64_t total = 0;
  for (Value v : ins) {
    Shape s = shapeOf(v);
    total += s.size() == ref.size() ? s[*axis] : 0;
    if (s.size() == ref.size())
      s[*axis] = 0;
    if (s != ref)
      return nodeError(node, "inputs differ outside the concat axis");
  }
  Shape out = ref;
  out[*axis] = total;
  Value acc = im.empty(out, elemOf(ins.front()));
  int64_t offset = 0;
  for (Value v : ins) {
    Shape s = shapeOf(v);
    SmallVector<OpFoldResult> offsets(s.size(), im.b.getIndexAttr(0)), sizes,
        strides(s.size(), im.b.getIndexAttr(1));
    offsets[*axis] = im.b.getIndexAttr(offset);
    for (int64_t d : s)
      sizes.push_back(im.b.getIndexAttr(d));
    acc = tensor::InsertSliceOp::create(im.b, im.loc, v, acc, offsets, sizes,
                                        strides);
    offset += s[*axis];
  }
  im.setOutput(node, 0, acc);
  return llvm::Error::success();
}

llvm::Error emitExpand(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  ONNX_TRY(target, im.intsInput(node, 1));
  auto out = broadcastShapes(shapeOf(*x), *target);
  if (!out)
    return nodeError(node, "the input does not broadcast to the shape");
  im.setOutput(node, 0, im.broadcastTo(*x, *out));
  return llvm::Error::success();
}

/// Tile: per tiled dim, [.., n, ..] -> [.., 1, n, ..] -> broadcast to
/// [.., r, n, ..] -> collapse to [.., r*n, ..] (torch's repeat).
llvm::Error emitTile(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  ONNX_TRY(reps, im.intsInput(node, 1));
  Shape s = shapeOf(*x);
  if (reps->size() != s.size())
    return nodeError(node, "repeats do not match the rank");
  Shape split, full, out;
  for (auto [d, r] : llvm::zip(s, *reps)) {
    if (r < 0)
      return nodeError(node, "negative repeat");
    split.append({1, d});
    full.append({r, d});
    out.push_back(r * d);
  }
  Value v = im.reshape(*x, split);
  v = im.broadcastTo(v, full);
  im.setOutput(node, 0, im.reshape(v, out));
  return llvm::Error::success();
}

/// Gather with constant indices along one axis: slices + concat.
llvm::Error emitGather(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  const ConstTensor *idx = im.constInput(node, 1);
  if (!idx || idx->shape.size() > 1)
    return nodeError(node, "only constant scalar or 1-D indices are "
                           "supported");
  Shape s = shapeOf(*x);
  ONNX_TRY(axisAttr, intAttr(node, "axis", 0));
  ONNX_TRY(axis, normalizeAxis(node, *axisAttr, s.size()));
  SmallVector<Value> parts;
  for (double k : idx->data) {
    int64_t i = k < 0 ? int64_t(k) + s[*axis] : int64_t(k);
    if (i < 0 || i >= s[*axis])
      return nodeError(node, "index out of range");
    llvm::SmallVector<AxisSlice, 4> p;
    for (int64_t d : s)
      p.push_back({0, d, 1});
    p[*axis] = {i, 1, 1};
    parts.push_back(extractSlice(im, *x, p));
  }
  Value v = parts.front();
  if (parts.size() > 1) {
    Shape out = s;
    out[*axis] = parts.size();
    v = im.empty(out, elemOf(*x));
    for (auto [j, part] : llvm::enumerate(parts)) {
      SmallVector<OpFoldResult> offsets(s.size(), im.b.getIndexAttr(0)), sizes,
          strides(s.size(), im.b.getIndexAttr(1));
      offsets[*axis] = im.b.getIndexAttr(j);
      for (int64_t d : shapeOf(part))
        sizes.push_back(im.b.getIndexAttr(d));
      v = tensor::InsertSliceOp::create(im.b, im.loc, part, v, offsets, sizes,
                                        strides);
    }
  }
  if (idx->shape.empty()) { // a scalar index drops the axis
    Shape out = s;
    out.erase(out.begin() + *axis);
    v = im.reshape(v, out);
  }
  im.setOutput(node, 0, v);
  return llvm::Error::success();
}

/// Trilu of a computed tensor: zero outside the triangle (index compare).
llvm::Error emitTrilu(Importer &im, const onnx::NodeProto &node) {
  ONNX_TRY(x, im.input(node, 0));
  ONNX_TRY(upper, intAttr(node, "upper", 1));
  int64_t k = 0;
  if (im.hasInput(node, 1)) {
    ONNX_TRY(kv, im.intsInput(node, 1));
    k = kv->front();
  }
  Shape s = shapeOf(*x);
  if (s.size() < 2)
    return nodeError(node, "input rank must be at least 2");
  Type elem = elemOf(*x);
  unsigned rank = s.size();
  bool up = *upper;
  Value zero = im.scalarConstant(0, elem);
  im.setOutput(
      node, 0,
      im.elementwise({ElemOperand{*x, Value(), s}}, s, elem,
                     [=](OpBuilder &b, Location l, ValueRange v) -> Value {
                       Value i = linalg::IndexOp::create(b, l, rank - 2);
                       Value j = linalg::IndexOp::create(b, l, rank - 1);
                       // keep: j - i >= k (upper) / j - i <= k (lower)
                       Value d = arith::SubIOp::create(b, l, j, i);
                       Value kc = arith::ConstantIndexOp::create(b, l, k);
                       Value keep =
                           arith::CmpIOp::create(b, l,
                                                 up ? arith::CmpIPredicate::sge
                                                    : arith::CmpIPredicate::sle,
                                                 d, kc);
                       return arith::SelectOp::create(b, l, keep, v[0], zero);
                     }));
  return llvm::Error::success();
}
} // namespace

void mlir::attn::onnx_import::addShapeHandlers(HandlerMap &map) {
  map["Shape"] = emitShapeOf;
  map["Size"] = emitShapeOf;
  map["Transpose"] = emitTranspose;
  for (const char *op : {"Reshape", "Flatten", "Unsqueeze", "Squeeze"})
    map[op] = emitReshapeLike;
  map["Slice"] = emitSlice;
  map["Split"] = emitSplit;
  map["Concat"] = emitConcat;
  map["Expand"] = emitExpand;
  map["Tile"] = emitTile;
  map["Gather"] = emitGather;
  map["Trilu"] = emitTrilu;
}
