//===- SpecShorthand.cpp - parse `gqa:b=1,hq=32,...` into a spec ----------===//
#include "dialect/AttentionSpec.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

bool parseInt(StringRef s, int64_t &out) {
  return !s.trim().getAsInteger(10, out);
}

bool parseFloat(StringRef s, float &out) {
  double d;
  if (s.trim().getAsDouble(d))
    return false;
  out = static_cast<float>(d);
  return true;
}

/// One `key=value` item (or a bare `key`) of the shorthand.
struct Item {
  StringRef key, value;
  bool hasValue;

  /// A switch: `key` alone, or key=true/false/1/0.
  bool flag(bool &field) const {
    StringRef v = value.trim();
    if (hasValue && v != "1" && v != "true" && v != "0" && v != "false")
      return false;
    field = !hasValue || v == "1" || v == "true";
    return true;
  }
  bool integer(int64_t &field) const {
    return hasValue && parseInt(value, field);
  }
  /// Batch and lengths may also be `?`: a run-time size.
  bool size(int64_t &field) const {
    if (hasValue && value.trim() == "?") {
      field = kDynamicSize;
      return true;
    }
    return integer(field);
  }
  bool number(std::optional<float> &field) const {
    float f;
    if (!hasValue || !parseFloat(value, f))
      return false;
    field = f;
    return true;
  }
};

/// What a key handler made of an item: not its key, done, or why the
/// value is bad.
using KeyResult = std::optional<std::optional<StringRef>>;
const KeyResult kNotMine = std::nullopt;
const KeyResult kDone = std::optional<StringRef>();
KeyResult badValue(StringRef why) { return std::optional<StringRef>(why); }
KeyResult check(bool ok, StringRef why) { return ok ? kDone : badValue(why); }

constexpr StringRef kFlagValues = "expected no value, true/false or 1/0";

/// Shapes, dtype and layout.
struct SizeKeys {
  AttentionSpec &spec;
  bool sawHkv = false, sawSq = false, sawSkv = false;

  KeyResult operator()(const Item &it) {
    StringRef k = it.key;
    if (k == "b")
      return check(it.size(spec.batch), "expected an integer or ?");
    if (k == "hq" || k == "h")
      return check(it.integer(spec.numHeads), "expected an integer");
    if (k == "hkv") {
      sawHkv = true;
      return check(it.integer(spec.numKvHeads), "expected an integer");
    }
    if (k == "sq") {
      sawSq = true;
      return check(it.size(spec.queryLen), "expected an integer or ?");
    }
    if (k == "skv") {
      sawSkv = true;
      return check(it.size(spec.kvLen), "expected an integer or ?");
    }
    if (k == "s") {
      int64_t s;
      if (!it.size(s))
        return badValue("expected an integer or ?");
      if (!sawSq)
        spec.queryLen = s;
      if (!sawSkv)
        spec.kvLen = s;
      return kDone;
    }
    if (k == "d")
      return check(it.integer(spec.headDim), "expected an integer");
    if (k == "dv")
      return check(it.integer(spec.valueDim), "expected an integer");
    if (k == "dtype") {
      auto t = parseElementType(it.value.trim());
      if (t)
        spec.dtype = *t;
      return check(t.has_value(), "expected f32, f16 or bf16");
    }
    if (k == "layout") {
      StringRef v = it.value.trim();
      if (v == "bhsd" || v == "bshd")
        spec.layout = v == "bhsd" ? Layout::BHSD : Layout::BSHD;
      return check(v == "bhsd" || v == "bshd", "expected bhsd or bshd");
    }
    return kNotMine;
  }
};

/// The mask's structure (causal, offset, window, dilation, global tokens).
KeyResult maskKey(MaskSpec &mask, const Item &it) {
  StringRef k = it.key;
  if (k == "causal")
    return check(it.flag(mask.causal), kFlagValues);
  if (k == "offset")
    return check(it.integer(mask.qOffset), "expected an integer");
  if (k == "window") {
    auto [l, r] = it.value.split(':');
    return check(it.hasValue && parseInt(l, mask.windowLeft) &&
                     parseInt(r, mask.windowRight),
                 "expected L:R (integers, -1 for unbounded)");
  }
  if (k == "dilation")
    return check(it.integer(mask.dilation), "expected an integer");
  if (k == "global")
    return check(it.integer(mask.globalTokens), "expected an integer");
  return kNotMine;
}

/// Score and output features (scale, softcap, ragged, lse, sinks, blocks,
/// dropout).
KeyResult featureKey(AttentionSpec &spec, const Item &it) {
  StringRef k = it.key;
  if (k == "scale")
    return check(it.number(spec.scale), "expected a number");
  if (k == "softcap")
    return check(it.number(spec.softcap), "expected a number");
  if (k == "ragged")
    return check(it.flag(spec.withKvLengths), kFlagValues);
  if (k == "lse")
    return check(it.flag(spec.returnLse), kFlagValues);
  if (k == "sinks")
    return check(it.flag(spec.withSinks), kFlagValues);
  if (k == "blocks") {
    // BQ:BK, then flags head (per query head) / batch (per sequence).
    SmallVector<StringRef, 4> parts;
    it.value.trim().split(parts, ':');
    BlockSparseSpec bs;
    bool ok = it.hasValue && parts.size() >= 2 &&
              parseInt(parts[0], bs.qBlock) && parseInt(parts[1], bs.kvBlock);
    for (StringRef flag :
         ArrayRef(parts).drop_front(std::min<size_t>(2, parts.size()))) {
      if (flag.consume_front("max"))
        ok = ok && parseInt(flag, bs.maxBlocks);
      else if (flag == "head" || flag == "batch")
        (flag == "head" ? bs.perHead : bs.perBatch) = true;
      else
        ok = false;
    }
    if (ok)
      spec.blockSparse = bs;
    return check(ok, "expected BQ:BK[:head][:batch][:maxN] (block sizes; "
                     "lists per query head / per sequence; list capacity)");
  }
  if (k == "dropout") {
    double p;
    bool ok = it.hasValue && !it.value.trim().getAsDouble(p);
    if (ok)
      spec.dropout = p;
    return check(ok, "expected a probability in [0, 1)");
  }
  return kNotMine;
}

/// mha/mqa fix the KV head count; gqa needs it.
std::string resolveKvHeads(StringRef kind, AttentionSpec &spec, bool sawHkv) {
  if (kind == "mha") {
    if (sawHkv && spec.numKvHeads != spec.numHeads)
      return "key 'hkv': mha needs hkv == hq";
    spec.numKvHeads = spec.numHeads;
  } else if (kind == "mqa") {
    if (sawHkv && spec.numKvHeads != 1)
      return "key 'hkv': mqa needs hkv == 1";
    spec.numKvHeads = 1;
  } else if (!sawHkv) {
    return "key 'hkv' is required for gqa";
  }
  return "";
}

} // namespace

std::optional<AttentionSpec>
mlir::attn::parseSpecShorthand(StringRef text, std::string &error) {
  StringRef kind = text.trim().split(':').first.trim();
  StringRef rest = text.trim().split(':').second;
  if (kind != "mha" && kind != "mqa" && kind != "gqa") {
    error = "unknown attention kind '" + kind.str() +
            "' (expected mha, mqa or gqa before ':')";
    return std::nullopt;
  }
  AttentionSpec spec;
  SizeKeys sizes{spec};
  SmallVector<StringRef> items;
  rest.split(items, ',', -1, /*KeepEmpty=*/false);
  for (StringRef entry : items) {
    Item it{entry.split('=').first.trim(), entry.split('=').second,
            entry.contains('=')};
    KeyResult result = sizes(it);
    if (result == kNotMine)
      result = maskKey(spec.mask, it);
    if (result == kNotMine)
      result = featureKey(spec, it);
    if (result == kNotMine) {
      error = "unknown key '" + it.key.str() +
              "' (expected b, hq, hkv, sq, skv, s, d, dv, dtype, layout, "
              "causal, offset, window, dilation, global, scale, softcap, "
              "ragged, lse, sinks, dropout, blocks)";
      return std::nullopt;
    }
    if (*result) {
      error = "bad value '" + it.value.str() + "' for key '" + it.key.str() +
              "': " + (*result)->str();
      return std::nullopt;
    }
  }
  error = resolveKvHeads(kind, spec, sizes.sawHkv);
  if (error.empty())
    error = spec.validate();
  if (!error.empty())
    return std::nullopt;
  return spec;
}
