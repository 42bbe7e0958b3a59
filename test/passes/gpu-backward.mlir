// attn-gpu-backward: attn.attention_grad on the buffer kernel ABI becomes
// two f32 scratch buffers and three launches (pre-pass, K/V-block kernel,
// dQ conversion); the main kernel is ldmatrix + mma.sync with f32 atomics
// into the dQ accumulator.
// RUN: attn-opt %s --attn-kernel-abi --attn-gpu-backward --canonicalize | FileCheck %s
// RUN: attn-opt %s --attn-kernel-abi --attn-gpu-backward='tile-rows=64' --canonicalize | FileCheck %s --check-prefix=TILE64

// GQA 4:1, d = 128, Sq = Skv = 200 (not a multiple of the 64-key blocks
// or the 32-row Q tiles), causal.
// CHECK-LABEL: func.func @gqa(
// CHECK-DAG: %[[D:.*]] = memref.alloc() : memref<1x8x200xf32>
// CHECK-DAG: %[[ACC:.*]] = memref.alloc() : memref<1x8x200x128xf32>
// CHECK: gpu.launch_func @attn_gpu::@gqa_bwd_pre blocks in (%c50, %c8, %c1) threads in (%c128, %c1, %c1) args(%arg3 : {{.*}}, %arg4 : {{.*}}, %[[D]] : {{.*}}, %[[ACC]] : {{.*}})
// 4 KV blocks x 2 KV heads; 64 keys of K and V, two stages of 32 rows of
// Q and dO (136-element rows), lse and D, and dSᵀ (64 x 40).
// CHECK: gpu.launch_func @attn_gpu::@gqa_bwd blocks in (%c4, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c75264_i32 args(%arg0 : {{.*}}, %arg1 : {{.*}}, %arg2 : {{.*}}, %arg4 : {{.*}}, %arg5 : {{.*}}, %[[D]] : {{.*}}, %[[ACC]] : {{.*}}, %arg7 : {{.*}}, %arg8 : {{.*}})
// CHECK: gpu.launch_func @attn_gpu::@gqa_bwd_dq blocks in (%c50, %c8, %c1) threads in (%c128, %c1, %c1) args(%[[ACC]] : {{.*}}, %arg6 : {{.*}})
// CHECK-NEXT: return
// CHECK: gpu.func @gqa_bwd_pre(
// CHECK: gpu.shuffle xor
// CHECK: gpu.func @gqa_bwd(
// CHECK: nvgpu.device_async_copy
// CHECK: scf.for
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK: nvvm.mma.sync {{.*}} {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK: memref.atomic_rmw addf
// CHECK: gpu.func @gqa_bwd_dq(
// TILE64: dynamic_shared_memory_size %c114688_i32
func.func @gqa(%q: tensor<1x8x200x128xbf16>, %k: tensor<1x2x200x128xbf16>, %v: tensor<1x2x200x128xbf16>, %o: tensor<1x8x200x128xbf16>, %do: tensor<1x8x200x128xbf16>, %lse: tensor<1x8x200xf32>)
    -> (tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>) {
  %dq, %dk, %dv = attn.attention_grad %q, %k, %v, %o, %do, %lse {mask = #attn.mask<causal = true>}
      : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x8x200x128xbf16>, tensor<1x8x200x128xbf16>, tensor<1x8x200xf32>
      -> tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>
  return %dq, %dk, %dv : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16>
}
