// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='tile-kv=40' 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='warp-row-tiles=2' 2>&1 | FileCheck %s --check-prefix=DECODE
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='stages=4 tile-kv=128' 2>&1 | FileCheck %s --check-prefix=SMEM
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='key-warps=3' 2>&1 | FileCheck %s --check-prefix=KEYWARPS
// KEYWARPS: error: 'attn.attention' op attn-gpu-flash: key-warps must be 1, 2 or 4

func.func @f32(%q: memref<1x2x8x64xf32>, %k: memref<1x2x8x64xf32>, %v: memref<1x2x8x64xf32>, %o: memref<1x2x8x64xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x8x64xf32> to tensor<1x2x8x64xf32>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x8x64xf32> to tensor<1x2x8x64xf32>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x8x64xf32> to tensor<1x2x8x64xf32>
  // expected-error @+1 {{attn-gpu-flash runs f16 and bf16 on tensor cores; element type 'f32' is not supported on the GPU}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32> -> tensor<1x2x8x64xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x8x64xf32>, memref<1x2x8x64xf32>) -> ()
  return
}

// -----

func.func @head_dim_264(%q: memref<1x2x8x264xbf16>, %k: memref<1x2x8x264xbf16>, %v: memref<1x2x8x264xbf16>, %o: memref<1x2x8x264xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x8x264xbf16> to tensor<1x2x8x264xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x8x264xbf16> to tensor<1x2x8x264xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x8x264xbf16> to tensor<1x2x8x264xbf16>
  // expected-error @+1 {{head dim 264 is not supported on the GPU (1 to 256; dims that are not multiples of 8 are zero-padded)}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x8x264xbf16>, tensor<1x2x8x264xbf16>, tensor<1x2x8x264xbf16> -> tensor<1x2x8x264xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x8x264xbf16>, memref<1x2x8x264xbf16>) -> ()
  return
}

// -----

// Multi-latent attention decode (d = 576, dv = 512): one warp's O rows would
// need 256 registers; refused with what is supported.
func.func @mla_decode(%q: memref<1x128x1x576xbf16>, %k: memref<1x1x8x576xbf16>, %v: memref<1x1x8x512xbf16>, %o: memref<1x128x1x512xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x128x1x576xbf16> to tensor<1x128x1x576xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x8x576xbf16> to tensor<1x1x8x576xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x8x512xbf16> to tensor<1x1x8x512xbf16>
  // expected-error @+1 {{head dim 576 is not supported on the GPU (1 to 256;}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x128x1x576xbf16>, tensor<1x1x8x576xbf16>, tensor<1x1x8x512xbf16> -> tensor<1x128x1x512xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x128x1x512xbf16>, memref<1x128x1x512xbf16>) -> ()
  return
}

// -----

func.func @value_dim_320(%q: memref<1x2x8x128xbf16>, %k: memref<1x2x8x128xbf16>, %v: memref<1x2x8x320xbf16>, %o: memref<1x2x8x320xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x8x128xbf16> to tensor<1x2x8x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x8x128xbf16> to tensor<1x2x8x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x8x320xbf16> to tensor<1x2x8x320xbf16>
  // expected-error @+1 {{value head dim 320 is not supported on the GPU (1 to 256;}}
  %r = attn.attention %qt, %kt, %vt : tensor<1x2x8x128xbf16>, tensor<1x2x8x128xbf16>, tensor<1x2x8x320xbf16> -> tensor<1x2x8x320xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x8x320xbf16>, memref<1x2x8x320xbf16>) -> ()
  return
}

// -----

// Tensor functions (not the runtime's buffer ABI) have nowhere to launch from.
func.func @tensor_abi(%q: tensor<1x2x8x64xbf16>, %k: tensor<1x2x8x64xbf16>, %v: tensor<1x2x8x64xbf16>) -> tensor<1x2x8x64xbf16> {
  // expected-error @+1 {{attn-gpu-flash needs the buffer kernel ABI}}
  %r = attn.attention %q, %k, %v : tensor<1x2x8x64xbf16>, tensor<1x2x8x64xbf16>, tensor<1x2x8x64xbf16> -> tensor<1x2x8x64xbf16>
  return %r : tensor<1x2x8x64xbf16>
}

// -----

func.func @window_ok(%q: memref<1x2x300x64xbf16>, %k: memref<1x2x300x64xbf16>, %v: memref<1x2x300x64xbf16>, %o: memref<1x2x300x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x300x64xbf16> to tensor<1x2x300x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x300x64xbf16> to tensor<1x2x300x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x300x64xbf16> to tensor<1x2x300x64xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true, window_left = 16>} : tensor<1x2x300x64xbf16>, tensor<1x2x300x64xbf16>, tensor<1x2x300x64xbf16> -> tensor<1x2x300x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x300x64xbf16>, memref<1x2x300x64xbf16>) -> ()
  return
}

// Options the kernel cannot honour are errors at the op.
// TILE: error: 'attn.attention' op attn-gpu-flash: tile-kv 40 must be a multiple of 16 (16 keys per key warp), at most 128
// SMEM: error: 'attn.attention' op attn-gpu-flash: the tiles need {{[0-9]+}} bytes of shared memory per block; the limit is 232448 (sm_90)
// DECODE: error: 'attn.attention' op attn-gpu-flash: warp-row-tiles=2 needs more than 32 rows per KV head group

// -----

// A decode-sized group (4 rows per KV head): warps split keys, not rows.
func.func @decode_rows(%q: memref<1x4x1x64xbf16>, %k: memref<1x1x300x64xbf16>, %v: memref<1x1x300x64xbf16>, %o: memref<1x4x1x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x1x64xbf16> to tensor<1x4x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x300x64xbf16> to tensor<1x1x300x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x300x64xbf16> to tensor<1x1x300x64xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x1x64xbf16>, tensor<1x1x300x64xbf16>, tensor<1x1x300x64xbf16> -> tensor<1x4x1x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x1x64xbf16>, memref<1x4x1x64xbf16>) -> ()
  return
}

// -----

func.func @decode_d128(%q: memref<1x4x1x128xbf16>, %k: memref<1x1x300x128xbf16>, %v: memref<1x1x300x128xbf16>, %o: memref<1x4x1x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x1x128xbf16> to tensor<1x4x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x300x128xbf16> to tensor<1x1x300x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x300x128xbf16> to tensor<1x1x300x128xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x1x128xbf16>, tensor<1x1x300x128xbf16>, tensor<1x1x300x128xbf16> -> tensor<1x4x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x1x128xbf16>, memref<1x4x1x128xbf16>) -> ()
  return
}

// -----

// Sinks of run-time size pass the verifier; the kernels read [Hq].
func.func @sinks(%q: memref<1x4x8x64xbf16>, %k: memref<1x2x8x64xbf16>, %v: memref<1x2x8x64xbf16>, %s: memref<?xf32>, %o: memref<1x4x8x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x8x64xbf16> to tensor<1x4x8x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x8x64xbf16> to tensor<1x2x8x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x8x64xbf16> to tensor<1x2x8x64xbf16>
  %st = bufferization.to_tensor %s restrict : memref<?xf32> to tensor<?xf32>
  // expected-error @+1 {{attn-gpu-flash needs sinks of static shape [Hq] (one f32 logit per query head); got 'tensor<?xf32>'}}
  %r = attn.attention %qt, %kt, %vt sinks(%st : tensor<?xf32>) : tensor<1x4x8x64xbf16>, tensor<1x2x8x64xbf16>, tensor<1x2x8x64xbf16> -> tensor<1x4x8x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x8x64xbf16>, memref<1x4x8x64xbf16>) -> ()
  return
}

// -----

func.func @cache_sinks(%q: memref<2x4x1x64xbf16>, %kc: memref<2x2x128x64xbf16>, %vc: memref<2x2x128x64xbf16>, %len: memref<2xi32>, %s: memref<?xf32>, %o: memref<2x4x1x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash needs sinks of static shape [Hq] (one f32 logit per query head); got 'memref<?xf32>'}}
  attn.cache_attention %q, %kc, %vc lengths(%len) sinks(%s : memref<?xf32>) outs(%o) : memref<2x4x1x64xbf16>, memref<2x2x128x64xbf16>, memref<2x2x128x64xbf16>, memref<2xi32> -> memref<2x4x1x64xbf16>
  return
}

// -----

// The backward is attn-gpu-backward's: attn-gpu-flash alone says so.
func.func @backward(%q: tensor<1x4x16x32xf16>, %k: tensor<1x2x24x32xf16>, %v: tensor<1x2x24x32xf16>, %o: tensor<1x4x16x32xf16>, %do: tensor<1x4x16x32xf16>, %lse: tensor<1x4x16xf32>) {
  // expected-error @+1 {{attn-gpu-flash does not lower the backward: run attn-gpu-backward first (attn-to-nvvm does)}}
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse
      : tensor<1x4x16x32xf16>, tensor<1x2x24x32xf16>, tensor<1x2x24x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16xf32>
      -> tensor<1x4x16x32xf16>, tensor<1x2x24x32xf16>, tensor<1x2x24x32xf16>
  return
}

// -----

// Rotary embedding runs on the GPU (gpu-flash-rope.mlir); what stays
// invalid is the verifier's: a static table shorter than the cache.
func.func @append_rope_short_table(%k: memref<2x2x1x64xbf16>, %v: memref<2x2x1x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %n: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<63x32xf32>, %sin: memref<63x32xf32>) {
  // expected-error @+1 {{rotary tables hold 63 positions but the cache holds up to 64 (every cached position must have a table row)}}
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<2xi32>) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<63x32xf32>, memref<63x32xf32>) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<2x2x1x64xbf16>, memref<2x2x1x64xbf16> into memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32>
  return
}

// -----

// Packed queries (mixed batches) run on the GPU, but without RoPE yet.
func.func @attention_rope_packed(%q: memref<3x8x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %qo: memref<3xi32>, %bt: memref<2x4xi32>, %cos: memref<64x32xf32>, %sin: memref<64x32xf32>, %o: memref<3x8x64xbf16>) {
  // expected-error @+1 {{attn-gpu-flash does not support the rotary embedding of packed queries yet (the CPU pipeline attn-to-cpu does)}}
  attn.cache_attention %q, %kc, %vc lengths(%len) query_offsets(%qo : memref<3xi32>) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<64x32xf32>, memref<64x32xf32>) outs(%o) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<3x8x64xbf16>, memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32> -> memref<3x8x64xbf16>
  return
}

// -----

// Additive attention is CPU only for now: a located error, not a silent pass.
func.func @additive(%q: tensor<2x1x8xf16>, %k: tensor<2x5x8xf16>, %v: tensor<2x5x8xf16>, %wq: tensor<16x8xf16>, %wk: tensor<16x8xf16>, %ws: tensor<1x16xf16>) -> tensor<2x1x8xf16> {
  // expected-error @+1 {{attn-gpu-flash: additive attention has no GPU lowering yet (CPU only: attn-to-cpu)}}
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws : tensor<2x1x8xf16>, tensor<2x5x8xf16>, tensor<2x5x8xf16>, tensor<16x8xf16>, tensor<16x8xf16>, tensor<1x16xf16> -> tensor<2x1x8xf16>
  return %o : tensor<2x1x8xf16>
}

// -----

func.func @layer(%x: tensor<2x16x64xf16>, %w: tensor<192x64xf16>, %wo: tensor<64x64xf16>) -> tensor<2x16x64xf16> {
  // expected-error @+1 {{attn-gpu-flash: an attention layer has no GPU lowering yet (CPU only: attn-to-cpu)}}
  %o = attn.multi_head_attention %x qkv_weight(%w : tensor<192x64xf16>) out_weight(%wo : tensor<64x64xf16>) {num_heads = 4} : tensor<2x16x64xf16> -> tensor<2x16x64xf16>
  return %o : tensor<2x16x64xf16>
}

// -----

// merge_states of run-time shape: the GPU kernel is compiled per shape.
func.func @merge_dynamic(%s: memref<2x?x4x1x64xf16>, %l: memref<2x?x4x1xf32>, %o: memref<?x4x1x64xf16>) {
  // expected-error @+1 {{attn-gpu-flash needs static shapes for merge_states (the runtime compiles one kernel per shape)}}
  attn.merge_states %s, %l into %o : memref<2x?x4x1x64xf16>, memref<2x?x4x1xf32> into memref<?x4x1x64xf16>
  return
}
