// RUN: attn-opt %s -split-input-file -verify-diagnostics

llvm.func @n_not_multiple_of_8(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64) {
  // expected-error @+1 {{n must be a multiple of 8 in [8, 256], got 12}}
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 12 : i64, elem = "bf16"} : !llvm.struct<(f32, f32, f32, f32)>
  llvm.return
}

// -----

llvm.func @bad_elem(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64) {
  // expected-error @+1 {{elem must be bf16 or f16, got f32}}
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "f32"} : !llvm.struct<(f32, f32, f32, f32)>
  llvm.return
}

// -----

llvm.func @three_a_registers(%acc: !llvm.struct<(f32, f32, f32, f32)>, %a: i32, %d: i64) {
  // expected-error @+1 {{A fragment must be 4 registers, got 3}}
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a], %d {n = 8 : i64, elem = "bf16"} : !llvm.struct<(f32, f32, f32, f32)>
  llvm.return
}

// -----

llvm.func @accumulator_count(%acc: !llvm.struct<(f32, f32)>, %a: i32, %d: i64) {
  // expected-error @+1 {{m64n8 needs 4 f32 accumulators}}
  %r = attn_ptx.wgmma_reg_a %acc, [%a, %a, %a, %a], %d {n = 8 : i64, elem = "bf16"} : !llvm.struct<(f32, f32)>
  llvm.return
}

// -----

llvm.func @pending_range(%v: !llvm.struct<(f32)>) {
  // expected-error @+1 {{pending must be in [0, 7], got 8}}
  %r = attn_ptx.wgmma_wait_group 8, %v : !llvm.struct<(f32)>
  llvm.return
}

// -----

llvm.func @register_type(%v: !llvm.struct<(f64)>) {
  // expected-error @+1 {{registers must be f32 or i32, got 'f64'}}
  %r = attn_ptx.wgmma_fence %v : !llvm.struct<(f64)>
  llvm.return
}

// -----

llvm.func @empty_pin(%v: !llvm.struct<()>) {
  // expected-error @+1 {{needs 1 to 64 registers, got 0}}
  %r = attn_ptx.pin %v : !llvm.struct<()>
  llvm.return
}

// -----

llvm.func @three_coords(%x: i32, %m: i64) {
  // expected-error @+1 {{needs 4 coordinates, got 3}}
  attn_ptx.tma_load_4d %x, %m, [%x, %x, %x], %x
  llvm.return
}
