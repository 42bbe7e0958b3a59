// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s

// Head dims beyond the multiples of 16 up to 128 (mma.sync kernels).
// d = 40, an odd multiple of 8: shared rows of 40 elements (5 chunks of 16
// bytes, odd, so ldmatrix rows hit distinct banks without padding); the
// last k step of Q·Kᵀ is m16n8k8 from ldmatrix.x2 of Q and K, and the last
// d tile of P·V reads V with ldmatrix.x2.trans: no column past 40 is read.
// CHECK-LABEL: func.func @d40
// CHECK: gpu.launch_func @attn_gpu::@d40_flash blocks in (%c7, %c2, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c30720_i32
// CHECK: gpu.func @d40_flash
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x8x200x40xbf16> to memref<128x40xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x2x200x40xbf16> to memref<2x64x40xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false} : memref<128x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false} : memref<128x40xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = false} : memref<2x64x40xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>
// CHECK: nvvm.mma.sync A[{{[^,]*}}, {{[^,]*}}]  B[{{[^,]*}}] {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 2 : i32, transpose = true} : memref<2x64x40xbf16, #gpu.address_space<workgroup>> -> vector<2x2xbf16>

func.func @d40(%q: memref<1x8x200x40xbf16>, %k: memref<1x2x200x40xbf16>, %v: memref<1x2x200x40xbf16>, %o: memref<1x8x200x40xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x200x40xbf16> to tensor<1x8x200x40xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x200x40xbf16> to tensor<1x2x200x40xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x200x40xbf16> to tensor<1x2x200x40xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x8x200x40xbf16>, tensor<1x2x200x40xbf16>, tensor<1x2x200x40xbf16> -> tensor<1x8x200x40xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x200x40xbf16>, memref<1x8x200x40xbf16>) -> ()
  return
}
// -----

// d = 72, f16, full: 9 chunks per row (odd, unpadded), 64-key tiles.
// CHECK-LABEL: func.func @d72
// CHECK: gpu.func @d72_flash
// CHECK: memref<2x64x72xf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync A[{{[^,]*}}, {{[^,]*}}]  B[{{[^,]*}}] {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 8>} : (vector<2xf16>, vector<2xf16>, f32)

func.func @d72(%q: memref<1x4x130x72xf16>, %k: memref<1x4x130x72xf16>, %v: memref<1x4x130x72xf16>, %o: memref<1x4x130x72xf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x4x130x72xf16> to tensor<1x4x130x72xf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x130x72xf16>, tensor<1x4x130x72xf16>, tensor<1x4x130x72xf16> -> tensor<1x4x130x72xf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x130x72xf16>, memref<1x4x130x72xf16>) -> ()
  return
}
// -----

// d = 192: one m tile per warp (64-row blocks: O is 96 registers), Q
// staged in shared memory, 32-key tiles (64-key tiles spill in ptxas).
// CHECK-LABEL: func.func @d192
// CHECK: gpu.launch_func @attn_gpu::@d192_flash blocks in (%c10, %c8, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c76800_i32
// CHECK: gpu.func @d192_flash
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x16x300x192xbf16> to memref<64x200xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x8x300x192xbf16> to memref<2x32x200xbf16, #gpu.address_space<workgroup>>

func.func @d192(%q: memref<1x16x300x192xbf16>, %k: memref<1x8x300x192xbf16>, %v: memref<1x8x300x192xbf16>, %o: memref<1x16x300x192xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x300x192xbf16> to tensor<1x16x300x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x192xbf16> to tensor<1x8x300x192xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x300x192xbf16>, tensor<1x8x300x192xbf16>, tensor<1x8x300x192xbf16> -> tensor<1x16x300x192xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x300x192xbf16>, memref<1x16x300x192xbf16>) -> ()
  return
}
// -----

// d = 256: the same layout (O is 128 registers per thread).
// CHECK-LABEL: func.func @d256
// CHECK: gpu.launch_func @attn_gpu::@d256_flash blocks in (%c10, %c8, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c101376_i32
// CHECK: gpu.func @d256_flash
// CHECK: memref<2x32x264xbf16, #gpu.address_space<workgroup>>

func.func @d256(%q: memref<1x16x300x256xbf16>, %k: memref<1x8x300x256xbf16>, %v: memref<1x8x300x256xbf16>, %o: memref<1x16x300x256xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x300x256xbf16> to tensor<1x16x300x256xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x8x300x256xbf16> to tensor<1x8x300x256xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x8x300x256xbf16> to tensor<1x8x300x256xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x300x256xbf16>, tensor<1x8x300x256xbf16>, tensor<1x8x300x256xbf16> -> tensor<1x16x300x256xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x300x256xbf16>, memref<1x16x300x256xbf16>) -> ()
  return
}
// -----

// d = 59: rows of 118 bytes are not 16-byte aligned: Q, K and V move
// element by element into rows zero-padded to 64 (a clamped load and a
// select, no cp.async), and the output is stored element by element,
// column 59 up dropped.
// CHECK-LABEL: func.func @d59
// CHECK: gpu.func @d59_flash
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: memref.load {{.*}} : memref<1x4x100x59xbf16>
// CHECK: arith.select
// CHECK: memref.store {{.*}} : memref<128x72xbf16, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: memref.load {{.*}} : memref<1x1x100x59xbf16>
// CHECK: memref.store {{.*}} : memref<2x64x72xbf16, #gpu.address_space<workgroup>>
// CHECK: nvvm.mma.sync
// CHECK: arith.cmpi slt, %{{.*}}, %c59
// CHECK-NEXT: scf.if
// CHECK: memref.store {{.*}} : memref<1x4x100x59xbf16>
// CHECK: gpu.return

func.func @d59(%q: memref<1x4x100x59xbf16>, %k: memref<1x1x100x59xbf16>, %v: memref<1x1x100x59xbf16>, %o: memref<1x4x100x59xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x4x100x59xbf16> to tensor<1x4x100x59xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x1x100x59xbf16> to tensor<1x1x100x59xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x1x100x59xbf16> to tensor<1x1x100x59xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<1x4x100x59xbf16>, tensor<1x1x100x59xbf16>, tensor<1x1x100x59xbf16> -> tensor<1x4x100x59xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x4x100x59xbf16>, memref<1x4x100x59xbf16>) -> ()
  return
}
// -----

// dv != d (DeepSeek prefill, d = 192, dv = 128): V and the output have 128
// columns, the K stage rows 200 and the V stage rows 136 elements; two m
// tiles per warp (O of dv = 128 fits) with 32-key tiles.
// CHECK-LABEL: func.func @dv128
// CHECK: gpu.launch_func @attn_gpu::@dv128_flash blocks in (%c2, %c16, %c1) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c94208_i32
// CHECK: gpu.func @dv128_flash(%{{.*}}: memref<1x16x200x192xbf16>, %{{.*}}: memref<1x16x200x192xbf16>, %{{.*}}: memref<1x16x200x128xbf16>, %{{.*}}: memref<1x16x200x128xbf16>)
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x16x200x192xbf16> to memref<2x32x200xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_copy {{.*}} : memref<1x16x200x128xbf16> to memref<2x32x136xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true} : memref<2x32x136xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: vector.store {{.*}} : memref<1x16x200x128xbf16>, vector<2xbf16>

func.func @dv128(%q: memref<1x16x200x192xbf16>, %k: memref<1x16x200x192xbf16>, %v: memref<1x16x200x128xbf16>, %o: memref<1x16x200x128xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x16x200x192xbf16> to tensor<1x16x200x192xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x16x200x128xbf16> to tensor<1x16x200x128xbf16>
  %r = attn.attention %qt, %kt, %vt {mask = #attn.mask<causal = true>} : tensor<1x16x200x192xbf16>, tensor<1x16x200x192xbf16>, tensor<1x16x200x128xbf16> -> tensor<1x16x200x128xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x16x200x128xbf16>, memref<1x16x200x128xbf16>) -> ()
  return
}
// -----

// Decode, d = 256: 4 key warps with 64-key tiles (128 would not fit the
// two stages in shared memory), split KV; the combine kernel's 128 threads
// merge two columns each.
// CHECK-LABEL: func.func @dec256
// CHECK: gpu.launch_func @attn_gpu::@dec256_flash blocks in (%c11, %c8, %c2) threads in (%c128, %c1, %c1) dynamic_shared_memory_size %c143616_i32
// CHECK: gpu.launch_func @attn_gpu::@dec256_combine
// CHECK: gpu.func @dec256_flash
// CHECK: memref<2x64x264xbf16, #gpu.address_space<workgroup>>
// CHECK: gpu.func @dec256_combine
// CHECK: arith.cmpi slt, %thread_id_x, %c256
// CHECK: arith.addi %thread_id_x, %c128
// CHECK-NEXT: arith.cmpi slt, %{{.*}}, %c256

func.func @dec256(%q: memref<2x32x1x256xbf16>, %k: memref<2x8x3000x256xbf16>, %v: memref<2x8x3000x256xbf16>, %o: memref<2x32x1x256xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<2x32x1x256xbf16> to tensor<2x32x1x256xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<2x8x3000x256xbf16> to tensor<2x8x3000x256xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<2x8x3000x256xbf16> to tensor<2x8x3000x256xbf16>
  %r = attn.attention %qt, %kt, %vt : tensor<2x32x1x256xbf16>, tensor<2x8x3000x256xbf16>, tensor<2x8x3000x256xbf16> -> tensor<2x32x1x256xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<2x32x1x256xbf16>, memref<2x32x1x256xbf16>) -> ()
  return
}
