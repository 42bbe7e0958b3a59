//===- ShapeFolding.cpp - shape arithmetic evaluated at import ------------===//
//
// torch.onnx.export writes sizes as Shape -> Gather -> Unsqueeze -> Concat
// chains, constant masks as Cast/Slice of buffers, and repeat_kv's expand
// shapes through ConstantOfShape/Equal/Where. With static shapes all of
// that is constant: nodes whose inputs are all constants are evaluated
// here on ConstTensor (doubles), so the emitted function holds only the
// tensor computation.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "runtime/HalfFloat.h"

#include <cmath>
#include <numeric>

using namespace mlir::attn::onnx_import;
using Shape = llvm::SmallVector<int64_t, 4>;
using Folded = std::optional<std::vector<ConstTensor>>;

namespace {

Shape stridesOf(llvm::ArrayRef<int64_t> shape) {
  Shape s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/// Linear index into a tensor of `shape` broadcast to `out`, at `idx`.
int64_t broadcastIndex(llvm::ArrayRef<int64_t> shape,
                       llvm::ArrayRef<int64_t> out,
                       llvm::ArrayRef<int64_t> idx) {
  Shape st = stridesOf(shape);
  int64_t lin = 0;
  size_t off = out.size() - shape.size();
  for (size_t j = 0; j < shape.size(); ++j)
    lin += (shape[j] == 1 ? 0 : idx[off + j]) * st[j];
  return lin;
}

/// Calls fn(index) for every index of `shape` in row-major order.
template <typename Fn> void forEachIndex(llvm::ArrayRef<int64_t> shape, Fn fn) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  Shape idx(shape.size(), 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    fn(idx);
    for (int j = static_cast<int>(shape.size()) - 1; j >= 0; --j) {
      if (++idx[j] < shape[j])
        break;
      idx[j] = 0;
    }
  }
}

double castValue(double x, Elem to) {
  switch (to) {
  case Elem::Bool:
    return x != 0;
  case Elem::F32:
    return static_cast<float>(x);
  case Elem::F16:
    return mlir::attn::rt::halfToFloat(
        mlir::attn::rt::floatToHalf(static_cast<float>(x)));
  case Elem::BF16:
    return mlir::attn::rt::bfloatToFloat(
        mlir::attn::rt::floatToBFloat(static_cast<float>(x)));
  case Elem::F64:
    return x;
  default:
    return std::isfinite(x) ? std::trunc(x) : 0;
  }
}

/// Elementwise fold of `n` broadcast inputs.
llvm::Expected<Folded>
foldElementwise(const onnx::NodeProto &node,
                llvm::ArrayRef<const ConstTensor *> in, Elem resultElem,
                llvm::function_ref<double(llvm::ArrayRef<double>)> fn) {
  Shape out;
  for (const ConstTensor *c : in) {
    if (!c)
      return nodeError(node, "an input is missing");
    auto s = broadcastShapes(out, c->shape);
    if (!s)
      return nodeError(node, "constant inputs do not broadcast");
    out = *s;
  }
  ConstTensor r;
  r.elem = resultElem;
  r.shape = out;
  llvm::SmallVector<double, 3> args(in.size());
  forEachIndex(out, [&](llvm::ArrayRef<int64_t> idx) {
    for (size_t i = 0; i < in.size(); ++i)
      args[i] = in[i]->data[broadcastIndex(in[i]->shape, out, idx)];
    r.data.push_back(castValue(fn(args), resultElem));
  });
  return Folded(std::vector<ConstTensor>{std::move(r)});
}

llvm::Expected<Folded> foldConstant(const onnx::NodeProto &node) {
  ConstTensor c;
  if (const onnx::AttributeProto *a = findAttr(node, "value")) {
    auto t = readTensor(a->t());
    if (!t)
      return nodeError(node, llvm::toString(t.takeError()));
    c = std::move(*t);
  } else if (const onnx::AttributeProto *f = findAttr(node, "value_float")) {
    c = ConstTensor{Elem::F32, {}, {f->f()}};
  } else if (const onnx::AttributeProto *f = findAttr(node, "value_floats")) {
    c = ConstTensor{
        Elem::F32,
        {f->floats_size()},
        std::vector<double>(f->floats().begin(), f->floats().end())};
  } else if (const onnx::AttributeProto *i = findAttr(node, "value_int")) {
    c = ConstTensor{Elem::I64, {}, {static_cast<double>(i->i())}};
  } else if (const onnx::AttributeProto *i = findAttr(node, "value_ints")) {
    c = ConstTensor{Elem::I64, {i->ints_size()}, {}};
    for (int64_t x : i->ints())
      c.data.push_back(static_cast<double>(x));
  } else {
    return nodeError(node, "unsupported Constant form (sparse or string)");
  }
  return Folded(std::vector<ConstTensor>{std::move(c)});
}

Shape ints(const ConstTensor *c) {
  Shape v;
  if (c)
    for (double x : c->data)
      v.push_back(static_cast<int64_t>(x));
  return v;
}

ConstTensor relayout(const ConstTensor &src, Shape shape) {
  ConstTensor r = src;
  r.shape = std::move(shape);
  return r;
}

llvm::Expected<Folded> foldGather(const onnx::NodeProto &node,
                                  const ConstTensor &data,
                                  const ConstTensor &indices) {
  auto axisAttr = intAttr(node, "axis", 0);
  if (!axisAttr)
    return axisAttr.takeError();
  auto axis = normalizeAxis(node, *axisAttr, data.shape.size());
  if (!axis)
    return axis.takeError();
  Shape out(data.shape.begin(), data.shape.begin() + *axis);
  out.append(indices.shape.begin(), indices.shape.end());
  out.append(data.shape.begin() + *axis + 1, data.shape.end());
  int64_t outer = 1, inner = 1, n = data.shape[*axis];
  for (int64_t i = 0; i < *axis; ++i)
    outer *= data.shape[i];
  for (size_t i = *axis + 1; i < data.shape.size(); ++i)
    inner *= data.shape[i];
  ConstTensor r{data.elem, out, {}};
  for (int64_t o = 0; o < outer; ++o)
    for (double ix : indices.data) {
      int64_t k = static_cast<int64_t>(ix);
      if (k < 0)
        k += n;
      if (k < 0 || k >= n)
        return nodeError(node, "index " + llvm::Twine(int64_t(ix)) +
                                   " is out of range for a dim of " +
                                   llvm::Twine(n));
      for (int64_t i = 0; i < inner; ++i)
        r.data.push_back(data.data[(o * n + k) * inner + i]);
    }
  return Folded(std::vector<ConstTensor>{std::move(r)});
}

llvm::Expected<Folded> foldConcat(const onnx::NodeProto &node,
                                  llvm::ArrayRef<const ConstTensor *> in) {
  auto axisAttr = intAttr(node, "axis", 0);
  if (!axisAttr)
    return axisAttr.takeError();
  auto axis = normalizeAxis(node, *axisAttr, in.front()->shape.size());
  if (!axis)
    return axis.takeError();
  Shape out = in.front()->shape;
  out[*axis] = 0;
  for (const ConstTensor *c : in) {
    if (c->shape.size() != out.size())
      return nodeError(node, "inputs of different ranks");
    out[*axis] += c->shape[*axis];
  }
  int64_t outer = 1;
  for (int64_t i = 0; i < *axis; ++i)
    outer *= out[i];
  ConstTensor r{in.front()->elem, out, {}};
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstTensor *c : in) {
      int64_t chunk = c->numElements() / std::max<int64_t>(outer, 1);
      r.data.insert(r.data.end(), c->data.begin() + o * chunk,
                    c->data.begin() + (o + 1) * chunk);
    }
  return Folded(std::vector<ConstTensor>{std::move(r)});
}

llvm::Expected<Folded> foldSlice(const onnx::NodeProto &node, int64_t opset,
                                 llvm::ArrayRef<const ConstTensor *> in) {
  const ConstTensor &data = *in[0];
  Shape starts, ends, axes, steps;
  if (opset >= 10) {
    auto get = [&](size_t i) { return i < in.size() ? ints(in[i]) : Shape(); };
    starts = get(1), ends = get(2), axes = get(3), steps = get(4);
  } else {
    auto s = intsAttr(node, "starts"), e = intsAttr(node, "ends"),
         a = intsAttr(node, "axes");
    if (!s || !e || !a)
      return nodeError(node, "bad starts/ends/axes attributes");
    starts = s->value_or(Shape()), ends = e->value_or(Shape()),
    axes = a->value_or(Shape());
  }
  auto p = sliceParams(node, data.shape, starts, ends, axes, steps);
  if (!p)
    return p.takeError();
  Shape out;
  for (const AxisSlice &s : *p)
    out.push_back(s.size);
  Shape st = stridesOf(data.shape);
  ConstTensor r{data.elem, out, {}};
  forEachIndex(out, [&](llvm::ArrayRef<int64_t> idx) {
    int64_t lin = 0;
    for (size_t j = 0; j < idx.size(); ++j)
      lin += ((*p)[j].start + idx[j] * (*p)[j].step) * st[j];
    r.data.push_back(data.data[lin]);
  });
  return Folded(std::vector<ConstTensor>{std::move(r)});
}

ConstTensor transposeConst(const ConstTensor &c, llvm::ArrayRef<int64_t> perm) {
  Shape out;
  for (int64_t p : perm)
    out.push_back(c.shape[p]);
  Shape st = stridesOf(c.shape);
  ConstTensor r{c.elem, out, {}};
  r.data.reserve(c.data.size());
  forEachIndex(out, [&](llvm::ArrayRef<int64_t> idx) {
    int64_t lin = 0;
    for (size_t j = 0; j < idx.size(); ++j)
      lin += idx[j] * st[perm[j]];
    r.data.push_back(c.data[lin]);
  });
  return r;
}

llvm::Expected<Folded> foldShapeOps(const onnx::NodeProto &node, int64_t opset,
                                    llvm::ArrayRef<const ConstTensor *> in);
llvm::Expected<Folded> foldMathOps(const onnx::NodeProto &node,
                                   llvm::ArrayRef<const ConstTensor *> in);
} // namespace

llvm::Expected<int64_t>
mlir::attn::onnx_import::normalizeAxis(const onnx::NodeProto &node,
                                       int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1))
    return nodeError(node, "axis " + llvm::Twine(axis) +
                               " is out of range for rank " +
                               llvm::Twine(rank));
  return a;
}

llvm::Expected<Folded>
mlir::attn::onnx_import::foldNode(const onnx::NodeProto &node,
                                  llvm::ArrayRef<const ConstTensor *> in,
                                  int64_t opset) {
  if (node.op_type() == "Constant")
    return foldConstant(node);
  if (in.empty() || !in.front())
    return Folded();
  auto shapeOps = foldShapeOps(node, opset, in);
  if (!shapeOps || *shapeOps)
    return shapeOps;
  return foldMathOps(node, in);
}

namespace {
llvm::Expected<Folded> foldShapeOps(const onnx::NodeProto &node, int64_t opset,
                                    llvm::ArrayRef<const ConstTensor *> in) {
  llvm::StringRef op = node.op_type();
  const ConstTensor &x = *in[0];
  auto one = [](ConstTensor c) {
    return Folded(std::vector<ConstTensor>{std::move(c)});
  };
  if (op == "Identity")
    return one(x);
  if (op == "Shape" || op == "Size") {
    ConstTensor r{Elem::I64, {static_cast<int64_t>(x.shape.size())}, {}};
    for (int64_t d : x.shape)
      r.data.push_back(d);
    if (op == "Size")
      r = ConstTensor{Elem::I64, {}, {double(x.numElements())}};
    return one(r);
  }
  if (op == "Gather" && in.size() > 1 && in[1])
    return foldGather(node, x, *in[1]);
  if (op == "Concat")
    return foldConcat(node, in);
  if (op == "Slice")
    return foldSlice(node, opset, in);
  if (op == "Unsqueeze" || op == "Squeeze") {
    Shape axes;
    if (opset >= 13) {
      axes = in.size() > 1 ? ints(in[1]) : Shape();
    } else if (auto a = intsAttr(node, "axes"); a && *a) {
      axes = **a;
    }
    auto s = op == "Unsqueeze" ? unsqueezeShape(node, x.shape, axes)
                               : squeezeShape(node, x.shape, axes);
    if (!s)
      return s.takeError();
    return one(relayout(x, *s));
  }
  if (op == "Reshape" && in.size() > 1 && in[1]) {
    auto allowZero = intAttr(node, "allowzero", 0);
    if (!allowZero)
      return allowZero.takeError();
    auto s = reshapeTarget(node, x.shape, ints(in[1]), *allowZero);
    if (!s)
      return s.takeError();
    return one(relayout(x, *s));
  }
  if (op == "Transpose") {
    auto perm = intsAttr(node, "perm");
    if (!perm)
      return perm.takeError();
    Shape p(x.shape.size());
    std::iota(p.rbegin(), p.rend(), 0);
    if (*perm)
      p = **perm;
    if (p.size() != x.shape.size())
      return nodeError(node, "perm does not match the rank");
    return one(transposeConst(x, p));
  }
  if (op == "ConstantOfShape") {
    ConstTensor r{Elem::F32, ints(&x), {}};
    double v = 0;
    if (const onnx::AttributeProto *a = findAttr(node, "value")) {
      auto t = readTensor(a->t());
      if (!t)
        return nodeError(node, llvm::toString(t.takeError()));
      r.elem = t->elem;
      v = t->data.empty() ? 0 : t->data.front();
    }
    r.data.assign(r.numElements(), v);
    return one(r);
  }
  if (op == "Expand" && in.size() > 1 && in[1]) {
    auto s = broadcastShapes(x.shape, ints(in[1]));
    if (!s)
      return nodeError(node, "shape does not broadcast");
    ConstTensor target{x.elem, *s, std::vector<double>(1, 0)};
    ConstTensor zeros = relayout(target, *s);
    zeros.data.assign(zeros.numElements(), 0);
    return foldElementwise(node, {&x, &zeros}, x.elem,
                           [](llvm::ArrayRef<double> a) { return a[0]; });
  }
  if (op == "Range" && in.size() == 3 && in[1] && in[2]) {
    double start = x.data[0], limit = in[1]->data[0], delta = in[2]->data[0];
    if (delta == 0)
      return nodeError(node, "delta is 0");
    int64_t n = std::max<int64_t>(
        0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
    ConstTensor r{x.elem, {n}, {}};
    for (int64_t i = 0; i < n; ++i)
      r.data.push_back(start + i * delta);
    return one(r);
  }
  if (op == "Trilu") {
    auto upper = intAttr(node, "upper", 1);
    if (!upper)
      return upper.takeError();
    int64_t k = in.size() > 1 && in[1] ? int64_t(in[1]->data[0]) : 0;
    if (x.shape.size() < 2)
      return nodeError(node, "input rank must be at least 2");
    int64_t rows = x.shape[x.shape.size() - 2], cols = x.shape.back();
    ConstTensor r = x;
    for (size_t lin = 0; lin < r.data.size(); ++lin) {
      int64_t i = (lin / cols) % rows, j = lin % cols;
      bool keep = *upper ? j - i >= k : j - i <= k;
      if (!keep)
        r.data[lin] = 0;
    }
    return one(r);
  }
  return Folded();
}

llvm::Expected<Folded> foldMathOps(const onnx::NodeProto &node,
                                   llvm::ArrayRef<const ConstTensor *> in) {
  llvm::StringRef op = node.op_type();
  Elem e = in[0]->elem;
  using A = llvm::ArrayRef<double>;
  if (op == "Cast") {
    auto to = intAttr(node, "to", -1);
    if (!to)
      return to.takeError();
    std::optional<Elem> t = elemFromOnnx(*to);
    if (!t)
      return nodeError(node, "cast to unsupported type " + llvm::Twine(*to));
    return foldElementwise(node, in.take_front(1), *t,
                           [](A a) { return a[0]; });
  }
  bool intDiv = !isFloat(e);
  static const llvm::StringMap<std::function<double(A)>> binary = {
      {"Add", [](A a) { return a[0] + a[1]; }},
      {"Sub", [](A a) { return a[0] - a[1]; }},
      {"Mul", [](A a) { return a[0] * a[1]; }},
      {"Pow", [](A a) { return std::pow(a[0], a[1]); }},
      {"Max", [](A a) { return std::max(a[0], a[1]); }},
      {"Min", [](A a) { return std::min(a[0], a[1]); }},
      {"And", [](A a) { return double(a[0] != 0 && a[1] != 0); }},
      {"Or", [](A a) { return double(a[0] != 0 || a[1] != 0); }}};
  static const llvm::StringMap<std::function<double(A)>> compare = {
      {"Equal", [](A a) { return double(a[0] == a[1]); }},
      {"Less", [](A a) { return double(a[0] < a[1]); }},
      {"Greater", [](A a) { return double(a[0] > a[1]); }},
      {"LessOrEqual", [](A a) { return double(a[0] <= a[1]); }},
      {"GreaterOrEqual", [](A a) { return double(a[0] >= a[1]); }}};
  static const llvm::StringMap<std::function<double(A)>> unary = {
      {"Sqrt", [](A a) { return std::sqrt(a[0]); }},
      {"Neg", [](A a) { return -a[0]; }},
      {"Not", [](A a) { return double(a[0] == 0); }},
      {"Reciprocal", [](A a) { return 1.0 / a[0]; }},
      {"Tanh", [](A a) { return std::tanh(a[0]); }},
      {"Exp", [](A a) { return std::exp(a[0]); }}};
  if (in.size() >= 2) {
    if (auto it = binary.find(op); it != binary.end())
      return foldElementwise(node, in.take_front(2), e, it->second);
    if (auto it = compare.find(op); it != compare.end())
      return foldElementwise(node, in.take_front(2), Elem::Bool, it->second);
    if (op == "Div")
      return foldElementwise(node, in.take_front(2), e, [intDiv](A a) {
        return intDiv ? (a[1] == 0 ? 0 : std::trunc(a[0] / a[1])) : a[0] / a[1];
      });
  }
  if (auto it = unary.find(op); it != unary.end())
    return foldElementwise(node, in.take_front(1), e, it->second);
  if (op == "Where" && in.size() == 3 && in[1] && in[2])
    return foldElementwise(node, in, in[1]->elem,
                           [](A a) { return a[0] != 0 ? a[1] : a[2]; });
  return Folded();
}
} // namespace
