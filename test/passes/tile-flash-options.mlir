// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash{tile-kv=24})' 2>&1 | FileCheck %s --check-prefix=KV
// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash{tile-rows=0})' 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash{tile-kv=1040})' 2>&1 | FileCheck %s --check-prefix=KVBIG
// RUN: not attn-opt %s --pass-pipeline='builtin.module(attn-tile-flash{tile-rows=1025})' 2>&1 | FileCheck %s --check-prefix=ROWSBIG

// KV: error: 'attn.attention' op tile-kv must be a positive multiple of 16 up to 1024, got 24
// ROWS: error: 'attn.attention' op tile-rows must be in [1, 1024], got 0
// KVBIG: error: 'attn.attention' op tile-kv must be a positive multiple of 16 up to 1024, got 1040
// ROWSBIG: error: 'attn.attention' op tile-rows must be in [1, 1024], got 1025
func.func @static_ok(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf32>, %v: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32> -> tensor<1x8x4x64xf32>
  return %o : tensor<1x8x4x64xf32>
}
