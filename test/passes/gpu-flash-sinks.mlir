// Attention sinks on the GPU: the [Hq] f32 sink logits are a kernel
// parameter after the lengths / block table; an unsplit row counts its
// head's sink in its final normalization (the epilogue), split rows leave
// it to the combine kernel, which counts it once in the merged
// denominator. With run-time splits the flash kernel reads the sink only
// on the one-split branch.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='key-warps=2' --canonicalize | FileCheck %s --check-prefix=KW2

// Prefill, GQA 2:1, causal, lse: one launch; the sink is read after the
// KV loop, raised into the row max (llvm.maxnum with sink * log2(e)).
// CHECK-LABEL: func.func @prefill
// CHECK: gpu.launch_func @attn_gpu::@prefill_flash {{.*}} args(%{{.*}} : memref<1x4x100x64xbf16>, %{{.*}} : memref<1x2x100x64xbf16>, %{{.*}} : memref<1x2x100x64xbf16>, %arg3 : memref<4xf32>, %{{.*}} : memref<1x4x100x64xbf16>, %{{.*}} : memref<1x4x100xf32>)
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @prefill_flash(%{{.*}}: memref<1x4x100x64xbf16>, %{{.*}}: memref<1x2x100x64xbf16>, %{{.*}}: memref<1x2x100x64xbf16>, %[[S:.*]]: memref<4xf32>, %{{.*}}: memref<1x4x100x64xbf16>, %{{.*}}: memref<1x4x100xf32>)
// CHECK: scf.for
// CHECK: %[[SINK:.*]] = memref.load %[[S]][%{{.*}}] : memref<4xf32>
// CHECK: %[[SINK2:.*]] = arith.mulf %[[SINK]], %cst{{.*}} : f32
// CHECK: llvm.intr.maxnum(%{{.*}}, %[[SINK2]])
// CHECK: vector.store
// KW2-LABEL: gpu.func @prefill_flash
// KW2: memref.load %{{.*}} : memref<4xf32>
func.func @prefill(%q: memref<1x4x100x64xbf16>, %k: memref<1x2x100x64xbf16>, %v: memref<1x2x100x64xbf16>, %s: memref<4xf32>, %o: memref<1x4x100x64xbf16>, %l: memref<1x4x100xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x100x64xbf16> to tensor<1x4x100x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x100x64xbf16> to tensor<1x2x100x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x100x64xbf16> to tensor<1x2x100x64xbf16>
  %st = bufferization.to_tensor %s restrict : memref<4xf32> to tensor<4xf32>
  %r, %lse = attn.attention %qt, %kt, %vt sinks(%st : tensor<4xf32>) {mask = #attn.mask<causal = true>} : tensor<1x4x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x4x100x64xbf16>, tensor<1x4x100xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x100x64xbf16>, memref<1x4x100x64xbf16>) -> ()
  bufferization.materialize_in_destination %lse in restrict writable %l : (tensor<1x4x100xf32>, memref<1x4x100xf32>) -> ()
  return
}

// -----

// Decode, GQA 4:1, split KV (static count): the flash kernel takes the
// sinks but leaves them to the combine kernel, which raises the merged
// max to the sink and adds its weight once before dividing.
// CHECK-LABEL: func.func @decode_split
// CHECK: gpu.launch_func @attn_gpu::@decode_split_flash {{.*}} args({{.*}}, %arg3 : memref<8xf32>, %{{.*}} : memref<{{[0-9]+}}x64xf32>, %{{.*}} : memref<{{[0-9]+}}xf32>)
// CHECK: gpu.launch_func @attn_gpu::@decode_split_combine {{.*}} args(%{{.*}} : memref<{{[0-9]+}}x64xf32>, %{{.*}} : memref<{{[0-9]+}}xf32>, %{{.*}} : memref<1x8x1x64xbf16>, %{{.*}} : memref<1x8x1xf32>, %arg3 : memref<8xf32>)
// CHECK: gpu.func @decode_split_flash
// CHECK-NOT: memref.load %{{.*}} : memref<8xf32>
// CHECK: gpu.return
// CHECK: gpu.func @decode_split_combine(%{{.*}}: memref<{{[0-9]+}}x64xf32>, %{{.*}}: memref<{{[0-9]+}}xf32>, %{{.*}}: memref<1x8x1x64xbf16>, %{{.*}}: memref<1x8x1xf32>, %[[S:.*]]: memref<8xf32>)
// CHECK: %[[SINK:.*]] = memref.load %[[S]][%{{.*}}] : memref<8xf32>
// CHECK: arith.mulf %[[SINK]]
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK: arith.divf
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.ftz.f"
func.func @decode_split(%q: memref<1x8x1x64xbf16>, %k: memref<1x2x4096x64xbf16>, %v: memref<1x2x4096x64xbf16>, %s: memref<8xf32>, %o: memref<1x8x1x64xbf16>, %l: memref<1x8x1xf32>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x1x64xbf16> to tensor<1x8x1x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x4096x64xbf16> to tensor<1x2x4096x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x4096x64xbf16> to tensor<1x2x4096x64xbf16>
  %st = bufferization.to_tensor %s restrict : memref<8xf32> to tensor<8xf32>
  %r, %rl = attn.attention %qt, %kt, %vt sinks(%st : tensor<8xf32>) : tensor<1x8x1x64xbf16>, tensor<1x2x4096x64xbf16>, tensor<1x2x4096x64xbf16> -> tensor<1x8x1x64xbf16>, tensor<1x8x1xf32>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x1x64xbf16>, memref<1x8x1x64xbf16>) -> ()
  bufferization.materialize_in_destination %rl in restrict writable %l : (tensor<1x8x1xf32>, memref<1x8x1xf32>) -> ()
  return
}

// -----

// Paged decode (NHD) of run-time batch and block-table width: the split
// count is chosen per call; the flash kernel reads the sink only where it
// stores final rows (one split), the combine kernel (launched when split)
// takes the sinks after the lse.
// CHECK-LABEL: func.func @paged_dynamic
// CHECK: %[[N:.*]] = call @attn_gpu_kv_splits
// CHECK: gpu.launch_func @attn_gpu::@paged_dynamic_flash {{.*}} args(%{{.*}} : memref<bf16>, %arg1 : memref<64x16x2x64xbf16>, %arg2 : memref<64x16x2x64xbf16>, %{{.*}} : memref<i32>, %{{.*}} : memref<i32>, %arg5 : memref<8xf32>,
// CHECK: scf.if
// CHECK: gpu.launch_func @attn_gpu::@paged_dynamic_combine {{.*}} args(%{{.*}} : memref<f32>, %{{.*}} : memref<f32>, %{{.*}} : memref<bf16>, %{{.*}} : memref<f32>, %arg5 : memref<8xf32>, %{{.*}} : index, %{{.*}} : index, %[[N]] : index)
// CHECK: gpu.func @paged_dynamic_flash({{.*}}, %[[S:.*]]: memref<8xf32>,
// CHECK: scf.if
// CHECK: } else {
// CHECK: memref.load %[[S]][%{{.*}}] : memref<8xf32>
// CHECK: gpu.func @paged_dynamic_combine({{.*}}, %[[CS:.*]]: memref<8xf32>, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index)
// CHECK: memref.load %[[CS]][%{{.*}}] : memref<8xf32>
func.func @paged_dynamic(%q: memref<?x8x1x64xbf16>, %kc: memref<64x16x2x64xbf16>, %vc: memref<64x16x2x64xbf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %s: memref<8xf32>, %o: memref<?x8x1x64xbf16>, %l: memref<?x8x1xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) sinks(%s : memref<8xf32>) outs(%o, %l : memref<?x8x1xf32>) {mask = #attn.mask<causal = true, window_left = 100>} : memref<?x8x1x64xbf16>, memref<64x16x2x64xbf16>, memref<64x16x2x64xbf16>, memref<?xi32> -> memref<?x8x1x64xbf16>
  return
}
