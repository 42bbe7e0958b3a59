// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash='mma=wgmma' --canonicalize | FileCheck %s --check-prefix=WGMMA

// Data-dependent masks on the GPU: a boolean mask (broadcast over heads),
// segment ids, and FlexAttention-style score_mod / mask_mod regions. They
// are kernel parameters (mask, then the two segment-id arrays) or inlined
// per score; every KV tile evaluates them (no tile is known to be fully
// visible), so the per-score path is the only one (its scf.if folds away).
// CHECK-LABEL: func.func @custom
// CHECK: gpu.launch_func @attn_gpu::@custom_flash {{.*}} args(%{{.*}} : memref<1x8x200x128xbf16>, %{{.*}} : memref<1x2x200x128xbf16>, %{{.*}} : memref<1x2x200x128xbf16>, %{{.*}} : memref<1x1x200x200xi1>, %{{.*}} : memref<1x200xi32>, %{{.*}} : memref<1x200xi32>, %{{.*}} : memref<1x8x200x128xbf16>)
// CHECK: gpu.func @custom_flash(%{{.*}}: memref<1x8x200x128xbf16>, %{{.*}}: memref<1x2x200x128xbf16>, %{{.*}}: memref<1x2x200x128xbf16>, %[[MASK:arg[0-9]+]]: memref<1x1x200x200xi1>, %[[QS:arg[0-9]+]]: memref<1x200xi32>, %[[KS:arg[0-9]+]]: memref<1x200xi32>,
// score_mod: the ALiBi-like slope constant is cloned into the kernel with
// the region's ops.
// CHECK: arith.constant -6.250000e-02 : f32
// CHECK: arith.sitofp
// CHECK: memref.load %[[MASK]][%c0, %c0, %{{.*}}, %{{.*}}] : memref<1x1x200x200xi1>
// CHECK: memref.load %[[QS]]
// CHECK: memref.load %[[KS]]
// CHECK: arith.cmpi eq
// mask_mod: a query sees only even keys.
// CHECK: arith.remui
// CHECK: gpu.return
// WGMMA-LABEL: func.func @custom
// WGMMA: wgmma.mma_async
// WGMMA: memref.load {{.*}} : memref<1x1x200x200xi1>

func.func @custom(%q: memref<1x8x200x128xbf16>, %k: memref<1x2x200x128xbf16>, %v: memref<1x2x200x128xbf16>, %m: memref<1x1x200x200xi1>, %qs: memref<1x200xi32>, %ks: memref<1x200xi32>, %o: memref<1x8x200x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x200x128xbf16> to tensor<1x8x200x128xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x128xbf16> to tensor<1x2x200x128xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x128xbf16> to tensor<1x2x200x128xbf16>
  %mt = bufferization.to_tensor %m restrict : memref<1x1x200x200xi1> to tensor<1x1x200x200xi1>
  %qst = bufferization.to_tensor %qs restrict : memref<1x200xi32> to tensor<1x200xi32>
  %kst = bufferization.to_tensor %ks restrict : memref<1x200xi32> to tensor<1x200xi32>
  %slope = arith.constant -0.0625 : f32
  %c2 = arith.constant 2 : index
  %c0 = arith.constant 0 : index
  %r = attn.attention %qt, %kt, %vt bool_mask(%mt : tensor<1x1x200x200xi1>) segment_ids(%qst, %kst : tensor<1x200xi32>, tensor<1x200xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        %d = arith.subi %qi, %ki : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %bias = arith.mulf %df, %slope : f32
        %x = arith.addf %s, %bias : f32
        attn.yield %x : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %qi: index, %ki: index):
        %r2 = arith.remui %ki, %c2 : index
        %even = arith.cmpi eq, %r2, %c0 : index
        attn.yield %even : i1
      }
      {mask = #attn.mask<causal = true>} : tensor<1x8x200x128xbf16>, tensor<1x2x200x128xbf16>, tensor<1x2x200x128xbf16> -> tensor<1x8x200x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x200x128xbf16>, memref<1x8x200x128xbf16>) -> ()
  return
}

// -----

// A region that reads a runtime value (here a function argument) cannot
// follow it into the kernel.
func.func @captures(%q: memref<1x2x64x64xbf16>, %k: memref<1x2x64x64xbf16>, %v: memref<1x2x64x64xbf16>, %o: memref<1x2x64x64xbf16>, %slope: f32) {
  %qt = bufferization.to_tensor %q restrict : memref<1x2x64x64xbf16> to tensor<1x2x64x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x64x64xbf16> to tensor<1x2x64x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x64x64xbf16> to tensor<1x2x64x64xbf16>
  %r = attn.attention %qt, %kt, %vt
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        // expected-error @+1 {{'arith.mulf' op uses a value defined outside its score_mod region that is not a constant}}
        %x = arith.mulf %s, %slope : f32
        attn.yield %x : f32
      }
      : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16> -> tensor<1x2x64x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x2x64x64xbf16>, memref<1x2x64x64xbf16>) -> ()
  return
}
