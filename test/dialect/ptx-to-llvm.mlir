// RUN: attn-opt %s -split-input-file --convert-nvvm-to-llvm | FileCheck %s
// convert-nvvm-to-llvm lowers each attn_ptx op (BasicPtxBuilderOpInterface)
// to one volatile llvm.inline_asm; register lists stay tied in and out.

// CHECK-LABEL: llvm.func @wgmma_reg_a
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {$0, $1, $2, $3}, {$8, $9, $10, $11}, $12, p, 1, 1, 1;\0A}\0A", "=f,=f,=f,=f,0,1,2,3,r,r,r,r,l" {{.*}} : (f32, f32, f32, f32, i32, i32, i32, i32, i64) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK-NOT: attn_ptx
llvm.func @wgmma_reg_a(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64) -> !llvm.struct<(f32, f32, f32, f32)> {
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "bf16", accumulate, transpose_b} : !llvm.struct<(f32, f32, f32, f32)>
  llvm.return %r : !llvm.struct<(f32, f32, f32, f32)>
}

// -----

// Without accumulate (p = 0: D is overwritten) and B K-major.
// CHECK-LABEL: llvm.func @wgmma_reg_a_overwrite
// CHECK: "{\0A.reg .pred p;\0Asetp.ne.b32 p, 0, 0;\0Awgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {$0, $1, $2, $3}, {$8, $9, $10, $11}, $12, p, 1, 1, 0;\0A}\0A"
llvm.func @wgmma_reg_a_overwrite(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64) -> !llvm.struct<(f32, f32, f32, f32)> {
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "f16"} : !llvm.struct<(f32, f32, f32, f32)>
  llvm.return %r : !llvm.struct<(f32, f32, f32, f32)>
}

// -----

// CHECK-LABEL: llvm.func @wait_group
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "wgmma.wait_group.sync.aligned 1;", "=f,=f,0,1" {{.*}} : (f32, f32) -> !llvm.struct<(f32, f32)>
llvm.func @wait_group(%v: !llvm.struct<(f32, f32)>) -> !llvm.struct<(f32, f32)> {
  %r = attn_ptx.wgmma_wait_group 1, %v : !llvm.struct<(f32, f32)>
  llvm.return %r : !llvm.struct<(f32, f32)>
}

// -----

// CHECK-LABEL: llvm.func @fence
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "wgmma.fence.sync.aligned;", "=f,=r,0,1" {{.*}} : (f32, i32) -> !llvm.struct<(f32, i32)>
llvm.func @fence(%v: !llvm.struct<(f32, i32)>) -> !llvm.struct<(f32, i32)> {
  %r = attn_ptx.wgmma_fence %v : !llvm.struct<(f32, i32)>
  llvm.return %r : !llvm.struct<(f32, i32)>
}

// -----

// CHECK-LABEL: llvm.func @pin
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "", "=r,0" {{.*}} : (i32) -> !llvm.struct<(i32)>
llvm.func @pin(%v: !llvm.struct<(i32)>) -> !llvm.struct<(i32)> {
  %r = attn_ptx.pin %v : !llvm.struct<(i32)>
  llvm.return %r : !llvm.struct<(i32)>
}

// -----

// CHECK-LABEL: llvm.func @tma_load
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3, $4, $5}], [$6];", "r,l,r,r,r,r,r" %arg0, %arg1, %arg2, %arg2, %arg2, %arg2, %arg3 : (i32, i64, i32, i32, i32, i32, i32) -> ()
llvm.func @tma_load(%dst: i32, %map: i64, %c: i32, %bar: i32) {
  attn_ptx.tma_load_4d %dst, %map, [%c, %c, %c, %c], %bar
  llvm.return
}
