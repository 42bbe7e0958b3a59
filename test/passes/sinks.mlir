// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-tile-flash{parallelism=2})' | FileCheck %s --check-prefix=FLASH
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops{kv-splits=4})' | FileCheck %s --check-prefix=SPLITS
// RUN: attn-opt %s -split-input-file --attn-to-cpu='vector-width=16' | FileCheck %s --check-prefix=CPU

// Attention sinks start every row's online softmax as if it had seen one
// key of logit sinks[h] and value 0: row max = the sink, row sum = 1 (per
// query head of the GQA group), before the first KV tile.
// FLASH-LABEL: func @gqa_window_sinks
// FLASH: %[[SINKS:.*]] = bufferization.to_buffer %arg3 read_only : tensor<8xf32> to memref<8xf32, strided<[?], offset: ?>>
// FLASH: scf.forall
// FLASH: %[[MAX:.*]] = memref.alloca() : memref<64xf32>
// FLASH: %[[SUM:.*]] = memref.alloca() : memref<64xf32>
// FLASH: linalg.fill ins(%{{.*}} : f32) outs(%[[MAX]] : memref<64xf32>)
// FLASH: scf.for %[[G:.*]] = %{{.*}} to %{{.*}} step
// FLASH: %[[H:.*]] = arith.addi %{{.*}}, %[[G]] : index
// FLASH: %[[SINK:.*]] = memref.load %[[SINKS]][%[[H]]]
// FLASH: %[[M:.*]] = memref.subview %[[MAX]]
// FLASH: %[[S:.*]] = memref.subview %[[SUM]]
// FLASH: linalg.fill ins(%[[SINK]] : f32) outs(%[[M]]
// FLASH: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// FLASH: linalg.fill ins(%[[ONE]] : f32) outs(%[[S]]
// FLASH: attn.tile_online_softmax
// FLASH: attn.tile_finalize
// CPU-LABEL: llvm.func @gqa_window_sinks
// CPU-NOT: attn.
// CPU: llvm.return
func.func @gqa_window_sinks(%q: tensor<1x8x100x64xf32>, %k: tensor<1x2x100x64xf32>,
                            %v: tensor<1x2x100x64xf32>, %s: tensor<8xf32>)
    -> (tensor<1x8x100x64xf32>, tensor<1x8x100xf32>) {
  %o, %l = attn.attention %q, %k, %v sinks(%s : tensor<8xf32>)
      {mask = #attn.mask<causal = true, window_left = 31>}
      : tensor<1x8x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>
      -> tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
  return %o, %l : tensor<1x8x100x64xf32>, tensor<1x8x100xf32>
}

// -----

// Split-KV decode: only split 0 starts at the sink, so the merge of the
// splits counts it once.
// SPLITS-LABEL: func @decode_splits
// SPLITS: scf.forall (%[[ITEM:.*]]) in (16)
// SPLITS: %[[SPLIT:.*]] = arith.remui %[[ITEM]], %c4
// SPLITS: %[[FIRST:.*]] = arith.cmpi eq, %[[SPLIT]], %{{.*}} : index
// SPLITS: scf.if %[[FIRST]] {
// SPLITS: memref.load %arg4[%{{.*}}] : memref<8xf32>
// SPLITS: linalg.fill
// SPLITS: linalg.fill
// SPLITS: }
// SPLITS: attn.tile_online_softmax
// SPLITS: memref.atomic_rmw addi
// SPLITS: attn.tile_combine
// CPU-LABEL: llvm.func @decode_splits
// CPU-NOT: attn.
// CPU: llvm.return
func.func @decode_splits(%q: memref<2x8x1x64xf32>, %kc: memref<2x2x4096x64xf32>,
                         %vc: memref<2x2x4096x64xf32>, %len: memref<2xi32>,
                         %s: memref<8xf32>, %o: memref<2x8x1x64xf32>,
                         %l: memref<2x8x1xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) sinks(%s : memref<8xf32>)
      outs(%o, %l : memref<2x8x1xf32>)
      {mask = #attn.mask<causal = true, window_left = 1023>}
      : memref<2x8x1x64xf32>, memref<2x2x4096x64xf32>, memref<2x2x4096x64xf32>,
        memref<2xi32> -> memref<2x8x1x64xf32>
  return
}
