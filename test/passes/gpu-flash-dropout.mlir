// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='mma=wgmma' --canonicalize | FileCheck %s --check-prefix=WGMMA

// Dropout after the softmax: the [seed, offset] state is a kernel argument
// (after kv_lengths), the key is the seed's halves and counter word 3 the
// offset's low word; per n tile and row, ten Philox rounds (the multipliers
// 0xD2511F53 = -766435501 and 0xCD9E8D57 = -845247145, the Weyl increments
// 0x9E3779B9 = -1640531527 and 0xBB67AE85 = -1150833019), the word compared
// with the threshold floor(0.25 * 2^32) = 1073741824 and the kept
// probability scaled by 1 / (1 - 0.25) after the row sum took it.
// CHECK-LABEL: func.func @prefill
// CHECK: gpu.launch_func @attn_gpu::@prefill_flash
// CHECK: gpu.func @prefill_flash(%{{.*}}: memref<2x8x200x64xbf16>, %{{.*}}: memref<2x2x200x64xbf16>, %{{.*}}: memref<2x2x200x64xbf16>, %{{.*}}: memref<2xi32>, %[[STATE:.*]]: memref<2xi64>, %{{.*}}: memref<2x8x200x64xbf16>)
// CHECK-DAG: %[[SEED:.*]] = memref.load %[[STATE]][%c0] : memref<2xi64>
// CHECK-DAG: %[[OFF:.*]] = memref.load %[[STATE]][%c1] : memref<2xi64>
// CHECK-DAG: arith.trunci %[[SEED]] : i64 to i32
// CHECK-DAG: arith.shrui %[[SEED]], %{{.*}} : i64
// CHECK-DAG: arith.trunci %[[OFF]] : i64 to i32
// CHECK: scf.for
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f"
// CHECK: arith.mului_extended %{{.*}}, %c-766435501_i32
// CHECK: arith.mului_extended %{{.*}}, %c-845247145_i32
// CHECK: arith.addi %{{.*}}, %c-1640531527_i32 : i32
// CHECK: arith.addi %{{.*}}, %c-1150833019_i32 : i32
// CHECK: arith.cmpi uge, %{{.*}}, %c1073741824_i32 : i32
// CHECK: arith.mulf %{{.*}}, %cst{{.*}} : f32
// CHECK: nvvm.mma.sync
// WGMMA-LABEL: func.func @prefill
// WGMMA: gpu.func @prefill_flash
// WGMMA: nvvm.wgmma.mma_async
// WGMMA: arith.mului_extended %{{.*}}, %c-766435501_i32
// WGMMA: arith.cmpi uge, %{{.*}}, %c1073741824_i32 : i32
// WGMMA: attn_ptx.wgmma_reg_a
func.func @prefill(%q: memref<2x8x200x64xbf16>, %k: memref<2x2x200x64xbf16>, %v: memref<2x2x200x64xbf16>, %len: memref<2xi32>, %r: memref<2xi64>, %o: memref<2x8x200x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x8x200x64xbf16> to tensor<2x8x200x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x2x200x64xbf16> to tensor<2x2x200x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x2x200x64xbf16> to tensor<2x2x200x64xbf16>
  %lt = bufferization.to_tensor %len restrict : memref<2xi32> to tensor<2xi32>
  %rt = bufferization.to_tensor %r restrict : memref<2xi64> to tensor<2xi64>
  %res = attn.attention %qt, %kt, %vt kv_lengths(%lt : tensor<2xi32>) dropout(%rt : tensor<2xi64>) {dropout_p = 0.25 : f64, mask = #attn.mask<causal = true>} : tensor<2x8x200x64xbf16>, tensor<2x2x200x64xbf16>, tensor<2x2x200x64xbf16> -> tensor<2x8x200x64xbf16>
  bufferization.materialize_in_destination %res in restrict writable %o : (tensor<2x8x200x64xbf16>, memref<2x8x200x64xbf16>) -> ()
  return
}

// -----

// Rate 0 is the plain kernel: the state stays an argument (the ABI), no
// Philox round is drawn.
// CHECK-LABEL: func.func @rate_zero
// CHECK: gpu.func @rate_zero_flash(%{{.*}}: memref<1x4x256x64xf16>, %{{.*}}: memref<1x4x256x64xf16>, %{{.*}}: memref<1x4x256x64xf16>, %{{.*}}: memref<2xi64>, %{{.*}}: memref<1x4x256x64xf16>)
// CHECK-NOT: arith.mului_extended
// CHECK: gpu.return
func.func @rate_zero(%q: memref<1x4x256x64xf16>, %r: memref<2xi64>, %o: memref<1x4x256x64xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x256x64xf16> to tensor<1x4x256x64xf16>
  %rt = bufferization.to_tensor %r restrict : memref<2xi64> to tensor<2xi64>
  %res = attn.attention %qt, %qt, %qt dropout(%rt : tensor<2xi64>) {dropout_p = 0.0 : f64} : tensor<1x4x256x64xf16>, tensor<1x4x256x64xf16>, tensor<1x4x256x64xf16> -> tensor<1x4x256x64xf16>
  bufferization.materialize_in_destination %res in restrict writable %o : (tensor<1x4x256x64xf16>, memref<1x4x256x64xf16>) -> ()
  return
}
