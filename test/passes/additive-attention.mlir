// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash)' | FileCheck %s --check-prefix=FLASH
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash,func.func(attn-vectorize-tiles{vector-width=16}))' | FileCheck %s --check-prefix=VEC
// RUN: attn-opt %s -split-input-file --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=CPU

// Seed 002's decoder step: one work item per sequence. The key projection
// Pk = K·W_kᵀ is one tile_matmul per KV tile into a heap buffer of the
// valid keys, done once per item; the query projection once per query
// block; then the flash loop with tile_additive_scores as the score step,
// the tail tile masked, the online softmax and acc += P·V. The weights are
// a second pass over the same scores normalized by the final lse; keys
// past the length get 0. score_bias is never read (the softmax cancels it).
// FLASH-LABEL: func @seed
// FLASH-NOT: bufferization.to_buffer %arg7
// FLASH: scf.forall (%{{.*}}) in (8)
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<256x256xf32, strided<[?, 1], offset: ?>> into memref<256x256xf32>
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<256x256xf32, strided<[?, 1], offset: ?>> into memref<256x256xf32>
// FLASH: %[[PK:.*]] = memref.alloc(%{{.*}}) {alignment = 64 : i64} : memref<?x256xf32>
// FLASH: scf.for
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} : memref<?x256xf32, strided<[?, 1], offset: ?>> into memref<64x256xf32>
// FLASH: attn.tile_matmul %{{.*}}, %{{.*}} into %{{.*}} : memref<64x256xf32>, memref<256x256xf32> into memref<64x256xf32, strided<[256, 1], offset: ?>>
// FLASH: scf.for
// FLASH: attn.tile_matmul %{{.*}}, %{{.*}} into %[[PQ:.*]] : memref<4x256xf32>, memref<256x256xf32> into memref<4x256xf32>
// FLASH: scf.for
// FLASH: attn.tile_additive_scores %{{.*}}, %[[PQ]], %{{.*}} bias(%{{.*}} : memref<256xf32>) rows(%{{.*}}) into %[[S:.*]] : memref<64x256xf32, strided<[256, 1], offset: ?>>, memref<4x256xf32>, memref<256xf32> into memref<64x4xf32>
// FLASH: %[[END:.*]] = arith.addi
// FLASH-NEXT: %[[TAIL:.*]] = arith.cmpi slt, %c50, %[[END]]
// FLASH-NEXT: scf.if %[[TAIL]]
// FLASH-NEXT: attn.tile_mask %[[S]] q(%{{.*}}) kv(%{{.*}}) limit(%c50) {rows_per_head = 4 : i64} : memref<64x4xf32>
// FLASH: attn.tile_online_softmax %[[S]], %[[ACC:[^,]*]],
// FLASH: attn.tile_matmul %[[S]], %{{.*}} into %[[ACC]] {accumulate, transpose_lhs} : memref<64x4xf32>, memref<64x256xf32> into memref<4x256xf32>
// FLASH: attn.tile_finalize %[[ACC]], %{{.*}}, %{{.*}} into %{{.*}} lse(%[[LSE:.*]] : memref<4xf32>)
// FLASH: scf.for
// FLASH: attn.tile_additive_scores
// FLASH: attn.tile_store_probs %[[S]], %[[LSE]] into %{{.*}} : memref<64x4xf32>, memref<4xf32> into memref<?x?xf32, strided<[50, 1], offset: ?>>
// FLASH: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : memref<?x?xf32, strided<[50, 1], offset: ?>>)
// FLASH: memref.dealloc %[[PK]]
// FLASH: {attn.work_items}

// The hot loop: 4 queries × 4 keys of w·tanh(pk + pq + bias) per block, h
// on the 16 lanes, reduced by one shuffle tree into one 4-wide store per
// key; then single queries × 16 keys for the rows left over (Sq = 1 here).
// VEC-LABEL: func @seed
// VEC-NOT: attn.tile_additive_scores
// VEC: %[[T:.*]] = math.tanh %{{.*}} : vector<16xf32>
// VEC-NEXT: vector.fma %{{.*}}, %[[T]], %{{.*}} : vector<16xf32>
// VEC: vector.shuffle
// VEC: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<64x4xf32>, vector<4xf32>
// VEC: math.tanh %{{.*}} : vector<16xf32>
// VEC: vector.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<64x4xf32>, vector<1xf32>
// VEC: math.exp %{{.*}} : vector<4xf32>
// CPU-LABEL: llvm.func @seed
// CPU-NOT: attn.
// CPU-NOT: math.tanh
// CPU: llvm.return
func.func @seed(%q: tensor<8x1x256xf32>, %k: tensor<8x50x256xf32>,
                %v: tensor<8x50x256xf32>, %wq: tensor<256x256xf32>,
                %wk: tensor<256x256xf32>, %ws: tensor<1x256xf32>,
                %bias: tensor<256xf32>, %sb: tensor<1xf32>)
    -> (tensor<8x1x256xf32>, tensor<8x1x50xf32>) {
  %o, %w = attn.additive_attention %q, %k, %v, %wq, %wk, %ws
      bias(%bias : tensor<256xf32>) score_bias(%sb : tensor<1xf32>)
      : tensor<8x1x256xf32>, tensor<8x50x256xf32>, tensor<8x50x256xf32>,
        tensor<256x256xf32>, tensor<256x256xf32>, tensor<1x256xf32>
      -> tensor<8x1x256xf32>, tensor<8x1x50xf32>
  return %o, %w : tensor<8x1x256xf32>, tensor<8x1x50xf32>
}

// -----

// Run-time B, Sq and Skv: the item count is computed from the buffers; H =
// 37 pads to 48 (zeros: tanh(0) adds nothing); bf16 packs to f32; the
// lengths bound the KV loop; the broadcast boolean mask is read per score.
// No weights result: no second pass.
// FLASH-LABEL: func @dynamic
// FLASH: %[[LEN:.*]] = bufferization.to_buffer %arg6 read_only : tensor<?xi32>
// FLASH: scf.forall (%{{.*}}) in (%{{.*}})
// FLASH: memref.load %[[LEN]]
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<37x24xbf16, strided<[?, 1], offset: ?>> into memref<24x48xf32>
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} {transpose} : memref<37x40xbf16, strided<[?, 1], offset: ?>> into memref<40x48xf32>
// FLASH: attn.tile_pack %{{.*}} into %{{.*}} : memref<1x37xbf16, strided<[?, 1], offset: ?>> into memref<1x48xf32>
// FLASH: attn.tile_additive_scores %{{.*}}, %{{.*}}, %{{.*}} rows(%{{.*}}) into %{{.*}} : memref<64x48xf32, strided<[48, 1], offset: ?>>, memref<64x48xf32>, memref<48xf32> into memref<64x64xf32>
// FLASH: attn.tile_mask
// FLASH: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<?x1x?xi1, strided<[?, ?, ?], offset: ?>>
// FLASH: arith.select
// FLASH: attn.tile_online_softmax
// FLASH: attn.tile_finalize
// FLASH-NOT: lse(
// FLASH-NOT: attn.tile_store_probs
// FLASH: {attn.work_items}
// CPU-LABEL: llvm.func @dynamic
// CPU-NOT: attn.
// CPU: llvm.return
func.func @dynamic(%q: tensor<?x?x24xbf16>, %k: tensor<?x?x40xbf16>,
                   %v: tensor<?x?x12xbf16>, %wq: tensor<37x24xbf16>,
                   %wk: tensor<37x40xbf16>, %ws: tensor<1x37xbf16>,
                   %len: tensor<?xi32>, %m: tensor<?x1x?xi1>)
    -> tensor<?x?x12xbf16> {
  %o = attn.additive_attention %q, %k, %v, %wq, %wk, %ws
      kv_lengths(%len : tensor<?xi32>) bool_mask(%m : tensor<?x1x?xi1>)
      : tensor<?x?x24xbf16>, tensor<?x?x40xbf16>, tensor<?x?x12xbf16>,
        tensor<37x24xbf16>, tensor<37x40xbf16>, tensor<1x37xbf16>
      -> tensor<?x?x12xbf16>
  return %o : tensor<?x?x12xbf16>
}
