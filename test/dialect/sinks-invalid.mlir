// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @sinks_size(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %s: tensor<2xf32>) {
  // expected-error @+1 {{sinks shape [2] does not match expected [Hq] = [8]}}
  %o = attn.attention %q, %k, %v sinks(%s : tensor<2xf32>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @sinks_rank(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %s: tensor<1x8xf32>) {
  // expected-error @+1 {{sinks must have rank 1 [Hq], got rank 2}}
  %o = attn.attention %q, %k, %v sinks(%s : tensor<1x8xf32>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x16x64xf32>
  return
}

// -----

func.func @sinks_dtype(%q: tensor<1x8x16x64xbf16>, %k: tensor<1x2x16x64xbf16>, %v: tensor<1x2x16x64xbf16>, %s: tensor<8xbf16>) {
  // expected-error @+1 {{sinks element type must be f32 (one logit per query head), got 'bf16'}}
  %o = attn.attention %q, %k, %v sinks(%s : tensor<8xbf16>) : tensor<1x8x16x64xbf16>, tensor<1x2x16x64xbf16>, tensor<1x2x16x64xbf16> -> tensor<1x8x16x64xbf16>
  return
}

// -----

func.func @sinks_bshd_heads(%q: tensor<1x16x8x64xf32>, %k: tensor<1x16x2x64xf32>, %v: tensor<1x16x2x64xf32>, %s: tensor<16xf32>) {
  // expected-error @+1 {{sinks shape [16] does not match expected [Hq] = [8]}}
  %o = attn.attention %q, %k, %v sinks(%s : tensor<16xf32>) {layout = #attn.layout<bshd>} : tensor<1x16x8x64xf32>, tensor<1x16x2x64xf32>, tensor<1x16x2x64xf32> -> tensor<1x16x8x64xf32>
  return
}

// -----

func.func @cache_sinks_size(%q: memref<2x8x1x64xf32>, %kc: memref<2x2x128x64xf32>, %vc: memref<2x2x128x64xf32>, %len: memref<2xi32>, %s: memref<4xf32>, %o: memref<2x8x1x64xf32>) {
  // expected-error @+1 {{sinks shape [4] does not match expected [Hq] = [8]}}
  attn.cache_attention %q, %kc, %vc lengths(%len) sinks(%s : memref<4xf32>) outs(%o) : memref<2x8x1x64xf32>, memref<2x2x128x64xf32>, memref<2x2x128x64xf32>, memref<2xi32> -> memref<2x8x1x64xf32>
  return
}

// -----

func.func @cache_sinks_dtype(%q: memref<2x8x1x64xf16>, %kc: memref<2x2x128x64xf16>, %vc: memref<2x2x128x64xf16>, %len: memref<2xi32>, %s: memref<8xf16>, %o: memref<2x8x1x64xf16>) {
  // expected-error @+1 {{sinks element type must be f32 (one logit per query head), got 'f16'}}
  attn.cache_attention %q, %kc, %vc lengths(%len) sinks(%s : memref<8xf16>) outs(%o) : memref<2x8x1x64xf16>, memref<2x2x128x64xf16>, memref<2x2x128x64xf16>, memref<2xi32> -> memref<2x8x1x64xf16>
  return
}
