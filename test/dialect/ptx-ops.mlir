// RUN: attn-opt %s | attn-opt | FileCheck %s
// Round trip of every attn_ptx op.

// CHECK-LABEL: llvm.func @ops
llvm.func @ops(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64,
               %mix: !llvm.struct<(f32, i32)>, %dst: i32, %map: i64, %bar: i32) {
  // CHECK: attn_ptx.wgmma_reg_a %{{.*}}, [%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} {accumulate, elem = "bf16", n = 8 : i64, transpose_b} : !llvm.struct<(f32, f32, f32, f32)>
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "bf16", accumulate, transpose_b} : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK: attn_ptx.wgmma_reg_a %{{.*}} {elem = "f16", n = 8 : i64} :
  %r2 = attn_ptx.wgmma_reg_a %r, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "f16"} : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK: attn_ptx.wgmma_wait_group 1, %{{.*}} : !llvm.struct<(f32, f32, f32, f32)>
  %w = attn_ptx.wgmma_wait_group 1, %r2 : !llvm.struct<(f32, f32, f32, f32)>
  // CHECK: attn_ptx.wgmma_fence %{{.*}} : !llvm.struct<(f32, i32)>
  %f = attn_ptx.wgmma_fence %mix : !llvm.struct<(f32, i32)>
  // CHECK: attn_ptx.pin %{{.*}} : !llvm.struct<(f32, i32)>
  %p = attn_ptx.pin %f : !llvm.struct<(f32, i32)>
  // CHECK: attn_ptx.tma_load_4d %{{.*}}, %{{.*}}, [%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}}
  attn_ptx.tma_load_4d %dst, %map, [%a, %a, %a, %a], %bar
  llvm.return
}
