// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-gpu-flash='mma=wgmma' --canonicalize | FileCheck %s --check-prefix=WGMMA

// Block-sparse masks on the GPU (passes/gpu/BlockSparse.cpp): the lists are
// kernel parameters after the masks; each row block builds, in shared
// memory after the K/V stages and Q, one bitmap word per (head slot, query
// block) pair (GQA 4:1 with per-head lists, 128-row blocks spanning two
// 128-query blocks: 8 pairs, 4 KV blocks in one word) by atomic ORs, then
// the ascending union list by a ballot (bit 30: every pair lists the
// block); the KV loop runs over the list's tiles (two 64-key tiles per
// 128-key block), loading each tile's block from the list.
// CHECK-LABEL: func.func @sparse
// CHECK: gpu.launch_func @attn_gpu::@sparse_flash {{.*}} dynamic_shared_memory_size %c55344_i32 args(%{{.*}} : memref<1x8x300x64xbf16>, %{{.*}} : memref<1x2x500x64xbf16>, %{{.*}} : memref<1x2x500x64xbf16>, %{{.*}} : memref<1x8x3xi32>, %{{.*}} : memref<1x8x3x4xi32>, %{{.*}} : memref<1x8x300x64xbf16>)
// CHECK: gpu.func @sparse_flash(%{{.*}}: memref<1x8x300x64xbf16>, %{{.*}}: memref<1x2x500x64xbf16>, %{{.*}}: memref<1x2x500x64xbf16>, %[[NUM:arg[0-9]+]]: memref<1x8x3xi32>, %[[IDX:arg[0-9]+]]: memref<1x8x3x4xi32>,
// CHECK: %[[LISTS:.*]] = memref.view %{{.*}}[%c55296][] : {{.*}} to memref<12xi32, #gpu.address_space<workgroup>>
// CHECK: memref.store %c0_i32, %[[LISTS]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[NUM]]
// CHECK: scf.if
// CHECK: memref.load %[[IDX]]
// CHECK: memref.atomic_rmw ori %{{.*}}, %[[LISTS]]
// CHECK: gpu.barrier
// CHECK: nvvm.vote.sync  ballot
// CHECK: llvm.intr.ctpop
// CHECK: arith.shli %{{.*}}, %c30_i32
// CHECK: memref.store %{{.*}}, %[[LISTS]]
// CHECK: llvm.intr.ctpop
// CHECK: gpu.barrier
// The loop's tile count: listed blocks x 2 tiles.
// CHECK: %[[TILES:.*]] = arith.muli %{{.*}}, %c2 : index
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c1 iter_args
// CHECK: memref.load %[[LISTS]]
// CHECK: arith.andi %{{.*}}, %c1073741823_i32
// Masked tiles: a row's own list (its pair's word) decides its keys.
// CHECK: memref.load %[[LISTS]]
// CHECK: arith.shrui
// WGMMA-LABEL: gpu.func @sparse_flash
// WGMMA: memref.atomic_rmw ori
// WGMMA: nvvm.vote.sync  ballot
// WGMMA: attn_ptx.wgmma_reg_a
func.func @sparse(%q: memref<1x8x300x64xbf16>, %k: memref<1x2x500x64xbf16>, %v: memref<1x2x500x64xbf16>, %n: memref<1x8x3xi32>, %i: memref<1x8x3x4xi32>, %o: memref<1x8x300x64xbf16>) {
  %qt = bufferization.to_tensor %q restrict : memref<1x8x300x64xbf16> to tensor<1x8x300x64xbf16>
  %kt = bufferization.to_tensor %k restrict : memref<1x2x500x64xbf16> to tensor<1x2x500x64xbf16>
  %vt = bufferization.to_tensor %v restrict : memref<1x2x500x64xbf16> to tensor<1x2x500x64xbf16>
  %nt = bufferization.to_tensor %n restrict : memref<1x8x3xi32> to tensor<1x8x3xi32>
  %it = bufferization.to_tensor %i restrict : memref<1x8x3x4xi32> to tensor<1x8x3x4xi32>
  %r = attn.attention %qt, %kt, %vt block_mask(%nt, %it : tensor<1x8x3xi32>, tensor<1x8x3x4xi32>) block_size [128, 128] {mask = #attn.mask<causal = true>} : tensor<1x8x300x64xbf16>, tensor<1x2x500x64xbf16>, tensor<1x2x500x64xbf16> -> tensor<1x8x300x64xbf16>
  bufferization.materialize_in_destination %r in restrict writable %o : (tensor<1x8x300x64xbf16>, memref<1x8x300x64xbf16>) -> ()
  return
}
