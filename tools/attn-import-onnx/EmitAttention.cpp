//===- EmitAttention.cpp - attention ops mapped to attn.attention ---------===//
//
// ONNX's Attention (opset 23) and ONNX Runtime's com.microsoft
// MultiHeadAttention / GroupQueryAttention are attention already: each
// becomes one attn.attention (no raising needed). 4-D [B, H, S, D] inputs
// map to the default layout; 3-D [B, S, H*D] ones are split into heads by
// an expand_shape and use layout bshd, the output merged back. Inputs and
// attributes attn cannot express (KV caches, rotary embedding, packed QKV,
// padding masks, softmax precision modes) are errors naming the node.
//
//===----------------------------------------------------------------------===//
#include "tools/attn-import-onnx/Importer.h"

#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;
using Shape = llvm::SmallVector<int64_t, 4>;

namespace {

struct AttentionParts {
  Value q, k, v, boolMask, bias;
  bool bshd = false, causal = false;
  std::optional<float> scale, softcap;
};

/// [B, S, H*D] -> [B, S, H, D].
llvm::Expected<Value> splitHeads(Importer &im, const onnx::NodeProto &node,
                                 Value x, int64_t heads, llvm::StringRef what) {
  Shape s = shapeOf(x);
  if (s.size() != 3)
    return nodeError(node, what + " must be [B, S, H*D] (rank 3), not rank " +
                               llvm::Twine(s.size()));
  if (heads <= 0 || s[2] % heads)
    return nodeError(node, what + " hidden size " + llvm::Twine(s[2]) +
                               " is not a multiple of " + llvm::Twine(heads) +
                               " heads");
  return im.reshape(x, {s[0], s[1], heads, s[2] / heads});
}

/// A mask or bias broadcast to rank 4 (leading unit dims).
Value rank4(Importer &im, Value m) {
  Shape s = shapeOf(m);
  while (s.size() < 4)
    s.insert(s.begin(), 1);
  return im.reshape(m, s);
}

/// Builds the op; the output merged back to [B, S, H*Dv] for bshd.
llvm::Error build(Importer &im, const onnx::NodeProto &node,
                  const AttentionParts &p) {
  Shape qs = shapeOf(p.q), vs = shapeOf(p.v);
  if (qs.size() != 4 || shapeOf(p.k).size() != 4 || vs.size() != 4)
    return nodeError(node, "Q, K and V must be rank 4 (or rank 3 with head "
                           "counts)");
  Shape out = qs;
  out.back() = vs.back();
  auto type = RankedTensorType::get(
      out, cast<RankedTensorType>(p.q.getType()).getElementType());
  MLIRContext *ctx = im.b.getContext();
  auto op = AttentionOp::create(
      im.b, im.loc, type, Type(), p.q, p.k, p.v, p.boolMask, p.bias, Value(),
      Value(), Value(), Value(), /*dropout_state=*/Value(),
      /*kv_num_blocks=*/Value(), /*kv_indices=*/Value(),
      p.scale ? im.b.getF32FloatAttr(*p.scale) : FloatAttr(),
      p.softcap ? im.b.getF32FloatAttr(*p.softcap) : FloatAttr(),
      p.causal ? MaskAttr::get(ctx, true, 0, -1, -1, 1, 0) : MaskAttr(),
      p.bshd ? LayoutAttr::get(ctx, Layout::BSHD) : LayoutAttr(),
      /*dropout_p=*/FloatAttr(), /*block_size=*/DenseI64ArrayAttr());
  // The verifier's message (shapes, head counts) is the node's error.
  std::string diag;
  {
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
      if (diag.empty())
        diag = d.str();
      return success();
    });
    if (failed(mlir::verify(op, /*verifyRecursively=*/false))) {
      op->erase();
      return nodeError(node, "not a valid attention: " + diag);
    }
  }
  Value result = op.getOutput();
  if (p.bshd)
    result = im.reshape(result, {out[0], out[1], out[2] * out[3]});
  im.setOutput(node, 0, result);
  return llvm::Error::success();
}

/// attn_mask / attention_bias input `i`: bool -> bool_mask (true =
/// attend), float -> additive bias.
llvm::Error addMask(Importer &im, const onnx::NodeProto &node, int i,
                    AttentionParts &p, bool boolAllowed) {
  if (!im.hasInput(node, i))
    return llvm::Error::success();
  ONNX_TRY(m, im.input(node, i));
  Type e = cast<RankedTensorType>(m->getType()).getElementType();
  if (e.isInteger(1) && boolAllowed)
    p.boolMask = rank4(im, *m);
  else if (isa<FloatType>(e))
    p.bias = rank4(im, *m);
  else
    return nodeError(node,
                     "mask input " + llvm::Twine(i) + " must be bool or float");
  return llvm::Error::success();
}

llvm::Error
rejectInputs(const onnx::NodeProto &node,
             std::initializer_list<std::pair<int, const char *>> inputs) {
  for (auto [i, name] : inputs)
    if (i < node.input_size() && !node.input(i).empty())
      return nodeError(node, llvm::Twine("input '") + name +
                                 "' is not supported (KV caches and "
                                 "these extras are not imported)");
  return llvm::Error::success();
}

llvm::Error emitOnnxAttention(Importer &im, const onnx::NodeProto &node) {
  if (im.model.opset < 23)
    return nodeError(node, "Attention needs opset 23 (the model imports " +
                               llvm::Twine(im.model.opset) + ")");
  if (auto e = rejectInputs(
          node, {{4, "past_key"}, {5, "past_value"}, {6, "nonpad_kv_seqlen"}}))
    return e;
  for (int i = 1; i < node.output_size(); ++i)
    if (!node.output(i).empty())
      return nodeError(node, "only output Y is supported");
  ONNX_TRY(mode, intAttr(node, "qk_matmul_output_mode", 0));
  ONNX_TRY(precision, intAttr(node, "softmax_precision", 0));
  ONNX_TRY(causal, intAttr(node, "is_causal", 0));
  ONNX_TRY(hq, intAttr(node, "q_num_heads", 0));
  ONNX_TRY(hkv, intAttr(node, "kv_num_heads", 0));
  (void)mode, (void)precision; // affect only outputs/precision not taken
  AttentionParts p;
  p.causal = *causal;
  ONNX_TRY(q, im.input(node, 0));
  ONNX_TRY(k, im.input(node, 1));
  ONNX_TRY(v, im.input(node, 2));
  p.q = *q, p.k = *k, p.v = *v;
  if (shapeOf(*q).size() == 3) {
    if (!*hq || !*hkv)
      return nodeError(node, "rank-3 inputs need q_num_heads and "
                             "kv_num_heads");
    ONNX_TRY(q4, splitHeads(im, node, *q, *hq, "Q"));
    ONNX_TRY(k4, splitHeads(im, node, *k, *hkv, "K"));
    ONNX_TRY(v4, splitHeads(im, node, *v, *hkv, "V"));
    p.q = *q4, p.k = *k4, p.v = *v4, p.bshd = true;
  }
  if (const onnx::AttributeProto *s = findAttr(node, "scale"))
    p.scale = s->f();
  else
    p.scale = 1.0f / std::sqrt(float(shapeOf(p.q).back()));
  ONNX_TRY(softcap, floatAttr(node, "softcap", 0.0f));
  if (*softcap != 0.0f)
    p.softcap = *softcap;
  if (auto e = addMask(im, node, 3, p, /*boolAllowed=*/true))
    return e;
  return build(im, node, p);
}

llvm::Error commonMsAttrs(Importer &im, const onnx::NodeProto &node,
                          AttentionParts &p, int64_t &heads) {
  ONNX_TRY(h, intAttr(node, "num_heads", 0));
  if (*h <= 0)
    return nodeError(node, "num_heads is required");
  heads = *h;
  if (const onnx::AttributeProto *s = findAttr(node, "scale");
      s && s->f() != 0.0f)
    p.scale = s->f();
  return llvm::Error::success();
}

llvm::Error emitMsMultiHeadAttention(Importer &im,
                                     const onnx::NodeProto &node) {
  if (auto e = rejectInputs(node, {{3, "bias"},
                                   {4, "key_padding_mask"},
                                   {6, "past_key"},
                                   {7, "past_value"},
                                   {8, "past_sequence_length"},
                                   {9, "cache_indirection"}}))
    return e;
  if (!im.hasInput(node, 1) || !im.hasInput(node, 2))
    return nodeError(node, "packed QKV / packed KV forms are not supported");
  AttentionParts p;
  int64_t heads = 0;
  if (auto e = commonMsAttrs(im, node, p, heads))
    return e;
  ONNX_TRY(causal, intAttr(node, "unidirectional", 0));
  p.causal = *causal;
  ONNX_TRY(q, im.input(node, 0));
  ONNX_TRY(k, im.input(node, 1));
  ONNX_TRY(v, im.input(node, 2));
  if (shapeOf(*k).size() != 3)
    return nodeError(node, "key must be [B, L, H*D] (the BNSH cache form is "
                           "not supported)");
  ONNX_TRY(q4, splitHeads(im, node, *q, heads, "query"));
  ONNX_TRY(k4, splitHeads(im, node, *k, heads, "key"));
  ONNX_TRY(v4, splitHeads(im, node, *v, heads, "value"));
  p.q = *q4, p.k = *k4, p.v = *v4, p.bshd = true;
  if (!p.scale)
    p.scale = 1.0f / std::sqrt(float(shapeOf(p.q).back()));
  if (auto e = addMask(im, node, 5, p, /*boolAllowed=*/false))
    return e;
  return build(im, node, p);
}

/// GroupQueryAttention is causal prefill here: no past, seqlens_k and
/// total_sequence_length constants describing full sequences.
llvm::Error emitMsGroupQueryAttention(Importer &im,
                                      const onnx::NodeProto &node) {
  if (auto e = rejectInputs(node, {{3, "past_key"},
                                   {4, "past_value"},
                                   {7, "cos_cache"},
                                   {8, "sin_cache"},
                                   {9, "position_ids"},
                                   {11, "head_sink"}}))
    return e;
  if (!im.hasInput(node, 1) || !im.hasInput(node, 2))
    return nodeError(node, "packed QKV is not supported");
  AttentionParts p;
  int64_t heads = 0;
  if (auto e = commonMsAttrs(im, node, p, heads))
    return e;
  ONNX_TRY(kvHeads, intAttr(node, "kv_num_heads", 0));
  ONNX_TRY(window, intAttr(node, "local_window_size", -1));
  ONNX_TRY(rotary, intAttr(node, "do_rotary", 0));
  ONNX_TRY(smooth, intAttr(node, "smooth_softmax", 0));
  if (*window >= 0 || *rotary || *smooth)
    return nodeError(node, "local_window_size, do_rotary and smooth_softmax "
                           "are not supported");
  ONNX_TRY(softcap, floatAttr(node, "softcap", 0.0f));
  if (*softcap != 0.0f)
    p.softcap = *softcap;
  ONNX_TRY(q, im.input(node, 0));
  ONNX_TRY(k, im.input(node, 1));
  ONNX_TRY(v, im.input(node, 2));
  ONNX_TRY(q4, splitHeads(im, node, *q, heads, "query"));
  ONNX_TRY(k4, splitHeads(im, node, *k, *kvHeads, "key"));
  ONNX_TRY(v4, splitHeads(im, node, *v, *kvHeads, "value"));
  p.q = *q4, p.k = *k4, p.v = *v4, p.bshd = true, p.causal = true;
  int64_t batch = shapeOf(p.q)[0], seq = shapeOf(p.k)[1];
  const ConstTensor *lens = im.constInput(node, 5);
  const ConstTensor *total = im.constInput(node, 6);
  if (!lens || !total || total->data.size() != 1 ||
      int64_t(total->data[0]) != seq || int64_t(lens->data.size()) != batch ||
      llvm::any_of(lens->data, [&](double l) { return l != seq - 1; }))
    return nodeError(node, "seqlens_k and total_sequence_length must be "
                           "constants of full sequences (" +
                               llvm::Twine(seq - 1) + " and " +
                               llvm::Twine(seq) +
                               ": prefill without "
                               "padding)");
  if (!p.scale)
    p.scale = 1.0f / std::sqrt(float(shapeOf(p.q).back()));
  if (auto e = addMask(im, node, 10, p, /*boolAllowed=*/false))
    return e;
  return build(im, node, p);
}
} // namespace

void mlir::attn::onnx_import::addAttentionHandlers(HandlerMap &map) {
  map["Attention"] = emitOnnxAttention;
  map["com.microsoft.MultiHeadAttention"] = emitMsMultiHeadAttention;
  map["com.microsoft.GroupQueryAttention"] = emitMsGroupQueryAttention;
}
