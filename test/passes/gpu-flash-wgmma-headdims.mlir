// RUN: attn-opt %s -split-input-file -verify-diagnostics --attn-gpu-flash='mma=auto' --canonicalize | FileCheck %s
// RUN: not attn-opt %s -split-input-file --attn-gpu-flash='mma=wgmma warp-row-tiles=2' 2>&1 | FileCheck %s --check-prefix=TWOTILES

// Hopper prefill at d = 192 and 256: one M tile per thread (O of two would
// take d registers), so two warpgroups of 64 rows (256 threads), 64-key
// tiles: 2 stages x (K + V) x d x 64 x 2 bytes + Q (128 rows) + 2 mbarriers
// + 1 KiB slack = 148496 bytes at d = 192, 197648 at d = 256 (of 227 KiB).
// Q·Kᵀ is m64n64k16 over d / 16 k steps of the 64-column swizzled blocks,
// P·V m64n192k16 / m64n256k16 (P from registers); K and V by TMA, one
// box of 64 columns per column block.
// TWOTILES: mma=wgmma needs warp-row-tiles=1 above head dim 128

// CHECK-LABEL: func.func @w192
// CHECK: gpu.launch_func @attn_gpu::@w192_flash blocks in (%c5, %c8, %c1) threads in (%c256, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c148496_i32
// CHECK: gpu.func @w192_flash
// CHECK: memref<3x128x64xbf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-3: attn_ptx.tma_load_4d
// CHECK: scf.for
// CHECK-COUNT-12: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// CHECK: attn_ptx.wgmma_reg_a {{.*}} {accumulate, elem = "bf16", n = 192 : i64, transpose_b}

func.func @w192(%q: memref<1x16x300x192xbf16>, %k: memref<1x8x300x192xbf16>, %v: memref<1x8x300x192xbf16>, %o: memref<1x16x300x192xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x300x192xbf16> to tensor<1x16x300x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x300x192xbf16>, tensor<1x8x300x192xbf16>, tensor<1x8x300x192xbf16> -> tensor<1x16x300x192xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x300x192xbf16>, memref<1x16x300x192xbf16>) -> ()
  return
}

// -----

// CHECK-LABEL: func.func @w256
// CHECK: gpu.launch_func @attn_gpu::@w256_flash blocks in (%c3, %c8, %c1) threads in (%c256, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c197648_i32
// CHECK: gpu.func @w256_flash
// CHECK: memref<4x128x64xf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-4: attn_ptx.tma_load_4d
// CHECK: scf.for
// CHECK-COUNT-16: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 64, k = 16>
// CHECK: attn_ptx.wgmma_reg_a {{.*}} {accumulate, elem = "f16", n = 256 : i64, transpose_b}

func.func @w256(%q: memref<1x8x300x256xf16>, %k: memref<1x8x300x256xf16>, %v: memref<1x8x300x256xf16>, %o: memref<1x8x300x256xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x300x256xf16> to tensor<1x8x300x256xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x256xf16> to tensor<1x8x300x256xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x256xf16> to tensor<1x8x300x256xf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x8x300x256xf16>, tensor<1x8x300x256xf16>, tensor<1x8x300x256xf16> -> tensor<1x8x300x256xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x300x256xf16>, memref<1x8x300x256xf16>) -> ()
  return
}

// -----

// dv != d keeps mma.sync (the V column blocks would differ from K's).
// CHECK-LABEL: func.func @dv128
// CHECK-NOT: wgmma
// CHECK: nvvm.mma.sync

func.func @dv128(%q: memref<1x16x200x192xbf16>, %k: memref<1x16x200x192xbf16>, %v: memref<1x16x200x128xbf16>, %o: memref<1x16x200x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x16x200x128xbf16> to tensor<1x16x200x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x200x192xbf16>, tensor<1x16x200x192xbf16>, tensor<1x16x200x128xbf16> -> tensor<1x16x200x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x200x128xbf16>, memref<1x16x200x128xbf16>) -> ()
  return
}
