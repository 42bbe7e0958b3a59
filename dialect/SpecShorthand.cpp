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
  bool sawHkv = false, sawSkv = false, sawSq = false;
  SmallVector<StringRef> items;
  rest.split(items, ',', -1, /*KeepEmpty=*/false);
  for (StringRef item : items) {
    StringRef key = item.split('=').first.trim();
    StringRef value = item.split('=').second;
    bool hasValue = item.contains('=');
    auto bad = [&](StringRef why) {
      error = "bad value '" + value.str() + "' for key '" + key.str() +
              "': " + why.str();
      return std::nullopt;
    };
    // A switch: `key` alone, or key=true/false/1/0.
    auto flag = [&](bool &field) {
      StringRef v = value.trim();
      if (hasValue && v != "1" && v != "true" && v != "0" && v != "false")
        return false;
      field = !hasValue || v == "1" || v == "true";
      return true;
    };
    auto intKey = [&](int64_t &field) -> bool {
      return hasValue && parseInt(value, field);
    };
    // Batch and lengths may also be `?`: a run-time size.
    auto sizeKey = [&](int64_t &field) -> bool {
      if (hasValue && value.trim() == "?") {
        field = kDynamicSize;
        return true;
      }
      return intKey(field);
    };
    if (key == "b") {
      if (!sizeKey(spec.batch))
        return bad("expected an integer or ?");
    } else if (key == "hq" || key == "h") {
      if (!intKey(spec.numHeads))
        return bad("expected an integer");
    } else if (key == "hkv") {
      if (!intKey(spec.numKvHeads))
        return bad("expected an integer");
      sawHkv = true;
    } else if (key == "sq") {
      if (!sizeKey(spec.queryLen))
        return bad("expected an integer or ?");
      sawSq = true;
    } else if (key == "skv") {
      if (!sizeKey(spec.kvLen))
        return bad("expected an integer or ?");
      sawSkv = true;
    } else if (key == "s") {
      int64_t s;
      if (!sizeKey(s))
        return bad("expected an integer or ?");
      if (!sawSq)
        spec.queryLen = s;
      if (!sawSkv)
        spec.kvLen = s;
    } else if (key == "d") {
      if (!intKey(spec.headDim))
        return bad("expected an integer");
    } else if (key == "dv") {
      if (!intKey(spec.valueDim))
        return bad("expected an integer");
    } else if (key == "dtype") {
      auto t = parseElementType(value.trim());
      if (!t)
        return bad("expected f32, f16 or bf16");
      spec.dtype = *t;
    } else if (key == "layout") {
      if (value.trim() == "bhsd")
        spec.layout = Layout::BHSD;
      else if (value.trim() == "bshd")
        spec.layout = Layout::BSHD;
      else
        return bad("expected bhsd or bshd");
    } else if (key == "causal") {
      if (!flag(spec.mask.causal))
        return bad("expected no value, true/false or 1/0");
    } else if (key == "offset") {
      if (!intKey(spec.mask.qOffset))
        return bad("expected an integer");
    } else if (key == "window") {
      auto [l, r] = value.split(':');
      if (!hasValue || !parseInt(l, spec.mask.windowLeft) ||
          !parseInt(r, spec.mask.windowRight))
        return bad("expected L:R (integers, -1 for unbounded)");
    } else if (key == "dilation") {
      if (!intKey(spec.mask.dilation))
        return bad("expected an integer");
    } else if (key == "global") {
      if (!intKey(spec.mask.globalTokens))
        return bad("expected an integer");
    } else if (key == "scale") {
      float f;
      if (!hasValue || !parseFloat(value, f))
        return bad("expected a number");
      spec.scale = f;
    } else if (key == "softcap") {
      float f;
      if (!hasValue || !parseFloat(value, f))
        return bad("expected a number");
      spec.softcap = f;
    } else if (key == "ragged") {
      if (!flag(spec.withKvLengths))
        return bad("expected no value, true/false or 1/0");
    } else if (key == "lse") {
      if (!flag(spec.returnLse))
        return bad("expected no value, true/false or 1/0");
    } else if (key == "sinks") {
      if (!flag(spec.withSinks))
        return bad("expected no value, true/false or 1/0");
    } else if (key == "dropout") {
      double p;
      if (!hasValue || value.trim().getAsDouble(p))
        return bad("expected a probability in [0, 1)");
      spec.dropout = p;
    } else {
      error = "unknown key '" + key.str() +
              "' (expected b, hq, hkv, sq, skv, s, d, dv, dtype, layout, "
              "causal, offset, window, dilation, global, scale, softcap, "
              "ragged, lse, sinks, dropout)";
      return std::nullopt;
    }
  }
  if (kind == "mha") {
    if (sawHkv && spec.numKvHeads != spec.numHeads) {
      error = "key 'hkv': mha needs hkv == hq";
      return std::nullopt;
    }
    spec.numKvHeads = spec.numHeads;
  } else if (kind == "mqa") {
    if (sawHkv && spec.numKvHeads != 1) {
      error = "key 'hkv': mqa needs hkv == 1";
      return std::nullopt;
    }
    spec.numKvHeads = 1;
  } else if (!sawHkv) {
    error = "key 'hkv' is required for gqa";
    return std::nullopt;
  }
  if (std::string err = spec.validate(); !err.empty()) {
    error = err;
    return std::nullopt;
  }
  return spec;
}
