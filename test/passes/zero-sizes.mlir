// Zero-sized problems lower and run on the CPU: an empty batch, no query
// heads or no queries is no work at all; no keys (Skv = 0, an empty block
// table) are rows that see nothing (output 0, lse -inf). These once divided
// by zero (SIGFPE) or spun forever in the KV loop.
// RUN: attn-opt %s -split-input-file --attn-to-cpu | FileCheck %s --check-prefix=LLVM
// RUN: attn-opt %s -split-input-file --pass-pipeline='builtin.module(attn-lower-cache-ops,attn-tile-flash)' | FileCheck %s

// LLVM-LABEL: llvm.func @batch0
// CHECK-LABEL: func @batch0
// CHECK: scf.forall {{.*}} in (0)
// CHECK: attn.work_items
func.func @batch0(%q: tensor<0x1x16x16xf32>, %k: tensor<0x1x16x16xf32>, %v: tensor<0x1x16x16xf32>) -> tensor<0x1x16x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<0x1x16x16xf32>, tensor<0x1x16x16xf32>, tensor<0x1x16x16xf32> -> tensor<0x1x16x16xf32>
  return %o : tensor<0x1x16x16xf32>
}

// -----

// LLVM-LABEL: llvm.func @no_queries
// CHECK-LABEL: func @no_queries
// CHECK: scf.forall {{.*}} in (0)
// CHECK: attn.work_items
func.func @no_queries(%q: tensor<1x2x0x16xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x16xf32>) -> tensor<1x2x0x16xf32> {
  %o = attn.attention %q, %k, %v {mask = #attn.mask<causal = true>} : tensor<1x2x0x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32> -> tensor<1x2x0x16xf32>
  return %o : tensor<1x2x0x16xf32>
}

// -----

// LLVM-LABEL: llvm.func @no_query_heads
// CHECK-LABEL: func @no_query_heads
// CHECK: scf.forall {{.*}} in (0)
// CHECK: attn.work_items
func.func @no_query_heads(%q: tensor<1x0x8x16xf32>, %k: tensor<1x1x16x16xf32>, %v: tensor<1x1x16x16xf32>) -> tensor<1x0x8x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x0x8x16xf32>, tensor<1x1x16x16xf32>, tensor<1x1x16x16xf32> -> tensor<1x0x8x16xf32>
  return %o : tensor<1x0x8x16xf32>
}

// -----

// One work item whose KV loop has no tiles.
// LLVM-LABEL: llvm.func @no_keys
// CHECK-LABEL: func @no_keys
// CHECK: scf.forall {{.*}} in (1)
// CHECK: attn.kv_tile_loop = 16
// CHECK: attn.work_items
func.func @no_keys(%q: tensor<1x1x16x16xf32>, %k: tensor<1x1x0x16xf32>, %v: tensor<1x1x0x16xf32>) -> (tensor<1x1x16x16xf32>, tensor<1x1x16xf32>) {
  %o, %l = attn.attention %q, %k, %v : tensor<1x1x16x16xf32>, tensor<1x1x0x16xf32>, tensor<1x1x0x16xf32> -> tensor<1x1x16x16xf32>, tensor<1x1x16xf32>
  return %o, %l : tensor<1x1x16x16xf32>, tensor<1x1x16xf32>
}

// -----

// A paged cache with an empty block table (no pages per sequence).
// LLVM-LABEL: llvm.func @empty_block_table
// CHECK-LABEL: func @empty_block_table
// CHECK: scf.forall {{.*}} in (1)
// CHECK: attn.work_items
func.func @empty_block_table(%q: memref<1x1x1x16xf32>, %kc: memref<4x16x1x16xf32>, %vc: memref<4x16x1x16xf32>, %len: memref<1xi32>, %bt: memref<1x0xi32>, %o: memref<1x1x1x16xf32>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<1x0xi32>) outs(%o) : memref<1x1x1x16xf32>, memref<4x16x1x16xf32>, memref<4x16x1x16xf32>, memref<1xi32> -> memref<1x1x1x16xf32>
  return
}

// -----

// LLVM-LABEL: llvm.func @append_nothing
// CHECK-LABEL: func @append_nothing
// CHECK: scf.forall {{.*}} in (0)
// CHECK: attn.work_items
func.func @append_nothing(%k: memref<0x2x1x16xf32>, %v: memref<0x2x1x16xf32>, %kc: memref<0x2x8x16xf32>, %vc: memref<0x2x8x16xf32>, %len: memref<0xi32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) : memref<0x2x1x16xf32>, memref<0x2x1x16xf32> into memref<0x2x8x16xf32>, memref<0x2x8x16xf32>, memref<0xi32>
  return
}
