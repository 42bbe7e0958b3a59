// Each discardable attribute of the dialect with the wrong value type or on
// the wrong op: a located error (AttnDialect::verifyOperationAttribute).
// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @work_items_not_unit(%n: index) {
  // expected-error @+1 {{'attn.work_items' must be a unit attribute, got 10 : i64}}
  scf.forall (%i) in (%n) {
  } {attn.work_items = 10 : i64}
  return
}

// -----

func.func @work_items_on_for(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.work_items' belongs on the scf.forall of work items, not on 'scf.for'}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.work_items}
  return
}

// -----

func.func @work_items_2d(%n: index) {
  // expected-error @+1 {{'attn.work_items' marks a 1-D scf.forall, not rank 2}}
  scf.forall (%i, %j) in (%n, %n) {
  } {attn.work_items}
  return
}

// -----

func.func @work_items_offset(%n: index) {
  // expected-error @+1 {{'attn.work_items' marks a loop over [0, items) in steps of 1}}
  scf.forall (%i) = (1) to (%n) step (1) {
  } {attn.work_items}
  return
}

// -----

func.func @kv_tile_loop_not_integer(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.kv_tile_loop' must be an i64 tile size, got "64"}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.kv_tile_loop = "64"}
  return
}

// -----

func.func @kv_tile_loop_zero(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.kv_tile_loop' must be a positive i64 tile size, got 0 : i64}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.kv_tile_loop = 0 : i64}
  return
}

// -----

func.func @q_tile_loop_i32(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.q_tile_loop' must be a positive i64 tile size, got 16 : i32}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.q_tile_loop = 16 : i32}
  return
}

// -----

func.func @q_tile_loop_on_forall(%n: index) {
  // expected-error @+1 {{'attn.q_tile_loop' belongs on an scf.for over tiles, not on 'scf.forall'}}
  scf.forall (%i) in (%n) {
  } {attn.q_tile_loop = 16 : i64}
  return
}

// -----

func.func @mask_aware_plain_loop(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.mask_aware' marks a tile loop: the scf.for needs 'attn.kv_tile_loop' or 'attn.q_tile_loop'}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.mask_aware}
  return
}

// -----

func.func @split_scratch_unit(%n: index) {
  // expected-error @+1 {{'attn.split_scratch' must be the i64 bytes per work item, got unit}}
  %s = memref.alloc(%n) {attn.split_scratch} : memref<?xi8>
  return
}

// -----

func.func @split_scratch_zero(%n: index) {
  // expected-error @+1 {{'attn.split_scratch' must be a positive byte count, got 0 : i64}}
  %s = memref.alloc(%n) {attn.split_scratch = 0 : i64} : memref<?xi8>
  return
}

// -----

func.func @split_scratch_use_on_alloc(%n: index) {
  // expected-error @+1 {{'attn.split_scratch_use' belongs on the dealloc or the counter fill of the split-KV scratch, not on 'memref.alloc'}}
  %s = memref.alloc(%n) {attn.split_scratch_use} : memref<?xi8>
  return
}

// -----

func.func @raised_on_constant() {
  // expected-error @+1 {{'attn.raised' belongs on attn.attention, not on 'arith.constant'}}
  %c = arith.constant {attn.raised = "stable"} 0 : index
  return
}

// -----

func.func @tensor_map_not_dict() {
  // expected-error @+1 {{'attn.tensor_map' must be an #attn.tensor_map, got 1 : i64}}
  %tm = memref.alloc() {attn.tensor_map = 1 : i64} : memref<16xi64>
  return
}

// -----

func.func @unknown_attribute() {
  // expected-error @+1 {{'attn.work_item' is not an attribute of the attn dialect}}
  %c = arith.constant {attn.work_item} 0 : index
  return
}
