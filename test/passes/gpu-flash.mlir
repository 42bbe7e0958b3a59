// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='warp-row-tiles=1 tile-kv=64 kv-splits=2' --canonicalize | FileCheck %s --check-prefix=OPTS
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='key-warps=2' --canonicalize | FileCheck %s --check-prefix=KW2

// Prefill, GQA 4:1, causal, bf16: the host function keeps casts to dense
// buffers and one launch; a block owns 128 rows (2 m tiles x 4 warps) of a KV
// head's group, Q is staged in shared memory, K/V tiles of 64 keys stream
// through two cp.async stages, and both matmuls are mma.sync on bf16.
// CHECK-LABEL: func.func @gqa_causal
// CHECK: memref.cast %{{.*}} : memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to memref<1x8x100x128xbf16>
// CHECK: gpu.launch_func @attn_gpu::@gqa_causal_flash blocks in (%c4, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c104448_i32 args(
// CHECK-NOT: attn.attention
// CHECK: gpu.module @attn_gpu
// CHECK: gpu.func @gqa_causal_flash(%{{.*}}: memref<1x8x100x128xbf16>, %{{.*}}: memref<1x2x100x128xbf16>, %{{.*}}: memref<1x2x100x128xbf16>, %{{.*}}: memref<1x8x100x128xbf16>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: gpu.dynamic_shared_memory
// CHECK: nvgpu.device_async_copy {{.*}} 8 {bypassL1} : memref<1x8x100x128xbf16> to memref<128x136xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy {{.*}} 8 {bypassL1} : memref<1x2x100x128xbf16> to memref<2x64x136xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// CHECK: gpu.barrier
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<128x136xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<2x64x136xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: scf.if
// CHECK: arith.select
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x64x136xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK: scf.yield
// Rows live in one warp each: normalized in registers, stored as bf16 pairs.
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NOT: #gpu.address_space<workgroup>>
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: vector.store {{.*}} : memref<1x8x100x128xbf16>, vector<2xbf16>
// OPTS-LABEL: func.func @gqa_causal
// OPTS: gpu.launch_func @attn_gpu::@gqa_causal_flash blocks in (%c14, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c69632_i32
// OPTS: gpu.launch_func @attn_gpu::@gqa_causal_combine blocks in (%c400, %c2, %c1) threads in (%c128, %c1, %c1)

func.func @gqa_causal(%q: memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x8x100x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x100x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x8x100x128xbf16>, tensor<1x2x100x128xbf16>, tensor<1x2x100x128xbf16> -> tensor<1x8x100x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x100x128xbf16>, memref<1x8x100x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// Decode, GQA 4:1, ragged lengths: 4 rows per KV head fill one m tile, so the
// 4 warps split each 128-key tile (32 keys each) and merge through shared
// memory; 4 blocks cannot fill 132 SMs, so the KV range is split (flash-
// decoding) into partials in scratch buffers that a combine kernel merges.
// CHECK-LABEL: func.func @decode_split
// CHECK-DAG: %[[PO:.*]] = memref.alloc() : memref<{{[0-9]+}}x128xf32>
// CHECK-DAG: %[[PL:.*]] = memref.alloc() : memref<{{[0-9]+}}xf32>
// CHECK: gpu.launch_func @attn_gpu::@decode_split_flash blocks in (%{{.*}}, %c2, %c2) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c139264_i32 args({{.*}}, %{{.*}} : memref<2xi32>, %[[PO]] : {{.*}}, %[[PL]] : {{.*}})
// CHECK: gpu.launch_func @attn_gpu::@decode_split_combine blocks in (%c4, %c2, %c2) threads in (%c128, %c1, %c1) args(%[[PO]] : {{.*}}, %[[PL]] : {{.*}}, %{{.*}} : memref<2x8x1x128xbf16>)
// CHECK: gpu.func @decode_split_flash
// CHECK: memref.load %{{.*}}[%block_id_z] : memref<2xi32>
// The key warps of a row merge through shared memory, then write partials.
// CHECK: memref.store {{.*}} : memref<4x16x128xf32, #gpu.address_space<workgroup>>
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
// CHECK: gpu.func @decode_split_combine
// CHECK: memref.store {{.*}} : memref<2x8x1x128xbf16>
// key-warps=2: the 4-row group's block is one row warp and two key warps
// (64 threads), 64-key tiles (32 keys per warp).
// KW2-LABEL: func.func @decode_split
// KW2: gpu.launch_func @attn_gpu::@decode_split_flash blocks in (%{{.*}}, %c2, %c2) threads in (%c64, %c1, %c1)
// OPTS-LABEL: func.func @decode_split
// OPTS: gpu.launch_func @attn_gpu::@decode_split_flash blocks in (%c2, %c2, %c2)

func.func @decode_split(%q: memref<2x8x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<2x2x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<2x2x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>>, %len: memref<2xi32, strided<[?], offset: ?>>, %o: memref<2x8x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x8x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x8x1x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x2x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x2x4096x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x2x4096x128xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<2x2x4096x128xbf16>
  %lt = bufferization.to_tensor %len restrict : memref<2xi32, strided<[?], offset: ?>> to tensor<2xi32>
  %r = attn.attention %qt, %kt, %vt kv_lengths(%lt : tensor<2xi32>) : tensor<2x8x1x128xbf16>, tensor<2x2x4096x128xbf16>, tensor<2x2x4096x128xbf16> -> tensor<2x8x1x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x8x1x128xbf16>, memref<2x8x1x128xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// f16 in BSHD: mma operands are vector<2xf16> (bf16 goes through i32), and
// q/k/v are indexed [b, s, h, d].
// CHECK-LABEL: func.func @f16_bshd
// CHECK: gpu.func @f16_bshd_flash
// CHECK: nvgpu.device_async_copy %{{.*}}[%block_id_z, %{{.*}}, %block_id_y, %{{.*}}]
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)

func.func @f16_bshd(%q: memref<1x33x4x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x65x4x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x65x4x64xf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<1x33x4x64xf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x33x4x64xf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x33x4x64xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x65x4x64xf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x65x4x64xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x65x4x64xf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x65x4x64xf16>
  %r = attn.attention %qt, %kt, %vt {layout = #attn.layout<bshd>} : tensor<1x33x4x64xf16>, tensor<1x65x4x64xf16>, tensor<1x65x4x64xf16> -> tensor<1x33x4x64xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x33x4x64xf16>, memref<1x33x4x64xf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// Paged decode (NHD pages [P, page, Hkv, D]): each 16-byte K/V copy looks
// its page up in the block table (clamped to the pool), queries sit at the
// end of their sequences (position kv_lengths[b] - Sq + s).
// CHECK-LABEL: func.func @paged_nhd
// CHECK: gpu.launch_func @attn_gpu::@paged_nhd_flash {{.*}} args(%{{.*}} : memref<3x32x1x128xbf16>, %{{.*}} : memref<600x16x8x128xbf16>, %{{.*}} : memref<600x16x8x128xbf16>, %{{.*}} : memref<3xi32>, %{{.*}} : memref<3x200xi32>,
// CHECK: gpu.func @paged_nhd_flash
// CHECK: %[[PAGE:.*]] = memref.load %{{.*}}[%block_id_z, %{{.*}}] : memref<3x200xi32>
// CHECK: arith.index_cast %[[PAGE]]
// CHECK: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}, %block_id_y, %{{.*}}], {{.*}} : memref<600x16x8x128xbf16>
func.func @paged_nhd(%q: memref<3x32x1x128xbf16>, %kc: memref<600x16x8x128xbf16>, %vc: memref<600x16x8x128xbf16>, %len: memref<3xi32>, %bt: memref<3x200xi32>, %o: memref<3x32x1x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<3x200xi32>) outs(%o) {mask = #attn.mask<causal = true>} : memref<3x32x1x128xbf16>, memref<600x16x8x128xbf16>, memref<600x16x8x128xbf16>, memref<3xi32> -> memref<3x32x1x128xbf16>
  return
}

// -----

// Head-major pages [P, Hkv, page, D] and a 4-token chunk.
// CHECK-LABEL: func.func @paged_hnd
// CHECK: gpu.func @paged_hnd_flash
// CHECK: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %block_id_y, %{{.*}}, %{{.*}}], {{.*}} : memref<64x2x32x64xbf16>
func.func @paged_hnd(%q: memref<2x8x4x64xbf16>, %kc: memref<64x2x32x64xbf16>, %vc: memref<64x2x32x64xbf16>, %len: memref<2xi32>, %bt: memref<2x16xi32>, %o: memref<2x8x4x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x16xi32>) outs(%o) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>} : memref<2x8x4x64xbf16>, memref<64x2x32x64xbf16>, memref<64x2x32x64xbf16>, memref<2xi32> -> memref<2x8x4x64xbf16>
  return
}

// -----

// Contiguous cache [B, Hkv, Smax, D].
// CHECK-LABEL: func.func @contiguous_cache
// CHECK: gpu.func @contiguous_cache_flash
// CHECK: nvgpu.device_async_copy %{{.*}}[%block_id_z, %block_id_y, %{{.*}}, %{{.*}}], {{.*}} : memref<2x8x1024x128xbf16>
func.func @contiguous_cache(%q: memref<2x8x1x128xbf16>, %kc: memref<2x8x1024x128xbf16>, %vc: memref<2x8x1024x128xbf16>, %len: memref<2xi32>, %o: memref<2x8x1x128xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) outs(%o) : memref<2x8x1x128xbf16>, memref<2x8x1024x128xbf16>, memref<2x8x1024x128xbf16>, memref<2xi32> -> memref<2x8x1x128xbf16>
  return
}

// -----

// Appending a ragged batch of f32 rows to a bf16 paged cache: one thread per
// 16-byte chunk of a row, grid (Snew, Hkv, B); rows past new_lengths[b] are
// skipped, the page comes from the block table.
// CHECK-LABEL: func.func @append_paged
// CHECK: gpu.launch_func @attn_gpu::@append_paged_append blocks in (%c5, %c2, %c4) threads in (%c32, %c1, %c1)
// CHECK: gpu.func @append_paged_append
// CHECK: memref.load %{{.*}}[%block_id_z] : memref<4xi32>
// CHECK: scf.if
// CHECK: memref.load %{{.*}} : memref<4x20xi32>
// CHECK: vector.load {{.*}} : memref<4x2x5x80xf32>, vector<8xf32>
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK: vector.store {{.*}} : memref<100x16x2x80xbf16>, vector<8xbf16>
func.func @append_paged(%k: memref<4x2x5x80xf32>, %v: memref<4x2x5x80xf32>, %kc: memref<100x16x2x80xbf16>, %vc: memref<100x16x2x80xbf16>, %len: memref<4xi32>, %nl: memref<4xi32>, %bt: memref<4x20xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%nl : memref<4xi32>) block_table(%bt : memref<4x20xi32>) : memref<4x2x5x80xf32>, memref<4x2x5x80xf32> into memref<100x16x2x80xbf16>, memref<100x16x2x80xbf16>, memref<4xi32>
  return
}

// -----

// Softcap (Gemma 2): tanh.approx through the generic intrinsic, before the
// mask; the exponent then uses log2(e) alone (the scale went into tanh).
// CHECK-LABEL: func.func @softcap
// CHECK: gpu.func @softcap_flash
// CHECK: llvm.call_intrinsic "llvm.tanh.f32"({{.*}}) {fastmathFlags = #llvm.fastmath<afn>}
// CHECK: scf.if
func.func @softcap(%q: memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x40x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x40x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x40x64xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>, softcap = 30.0 : f32} : tensor<1x4x40x64xbf16>, tensor<1x4x40x64xbf16>, tensor<1x4x40x64xbf16> -> tensor<1x4x40x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x40x64xbf16>, memref<1x4x40x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// The lse result: each row's natural-log log-sum-exp, written by the
// combine kernel when the KV range is split.
// CHECK-LABEL: func.func @with_lse
// CHECK: gpu.launch_func @attn_gpu::@with_lse_combine {{.*}} args({{.*}}, %{{.*}} : memref<1x8x1xf32>)
// CHECK: gpu.func @with_lse_combine
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: memref.store %{{.*}}, %{{.*}}[%block_id_z, %{{.*}}, %{{.*}}] : memref<1x8x1xf32>
func.func @with_lse(%q: memref<1x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x2x4096x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x2x4096x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %o: memref<1x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %l: memref<1x8x1xf32, strided<[?, ?, ?], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x8x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x4096x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x4096x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x4096x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x2x4096x64xbf16>
  %r, %rl = attn.attention %qt, %kt, %vt : tensor<1x8x1x64xbf16>, tensor<1x2x4096x64xbf16>, tensor<1x2x4096x64xbf16> -> tensor<1x8x1x64xbf16>, tensor<1x8x1xf32>
  bufferization.materialize_in_destination %rl in restrict writable %l : (tensor<1x8x1xf32>, memref<1x8x1xf32, strided<[?, ?, ?], offset: ?>>) -> ()
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x1x64xbf16>, memref<1x8x1x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}

// -----

// An additive bias broadcast over queries: one load per score, fused into
// s * scale + bias (size-1 dims index 0).
// CHECK-LABEL: func.func @with_bias
// CHECK: gpu.launch_func @attn_gpu::@with_bias_flash {{.*}} args(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : memref<1x4x1x90xf32>,
// CHECK: gpu.func @with_bias_flash
// CHECK: %[[B:.*]] = memref.load %{{.*}}[%c0, %{{.*}}, %c0, %{{.*}}] : memref<1x4x1x90xf32>
// CHECK: math.fma %{{.*}}, %{{.*}}, %[[B]] : f32
func.func @with_bias(%q: memref<1x4x70x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %k: memref<1x4x90x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %v: memref<1x4x90x64xbf16, strided<[?, ?, ?, 1], offset: ?>>, %bias: memref<1x4x1x90xf32, strided<[?, ?, ?, ?], offset: ?>>, %o: memref<1x4x70x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x70x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x70x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x4x90x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x90x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x4x90x64xbf16, strided<[?, ?, ?, 1], offset: ?>> to tensor<1x4x90x64xbf16>
  %bt = bufferization.to_tensor %bias restrict : memref<1x4x1x90xf32, strided<[?, ?, ?, ?], offset: ?>> to tensor<1x4x1x90xf32>
  %r = attn.attention %qt, %kt, %vt bias(%bt : tensor<1x4x1x90xf32>) : tensor<1x4x70x64xbf16>, tensor<1x4x90x64xbf16>, tensor<1x4x90x64xbf16> -> tensor<1x4x70x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x70x64xbf16>, memref<1x4x70x64xbf16, strided<[?, ?, ?, 1], offset: ?>>) -> ()
  return
}
