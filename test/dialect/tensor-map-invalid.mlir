// #attn.tensor_map: what cuTensorMapEncodeTiled rejects is a located error
// of the attribute (TensorMapAttr::verify); what its source buffer rejects,
// of its placement (AttnDialect::verifyOperationAttribute).
// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @rank6(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map rank 6 is not 1 to 5}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 2, 2, 2, 2, 2], strides = [128, 256, 512, 1024, 2048], box = [64, 1, 1, 1, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @inconsistent(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map of rank 2 needs 1 strides and 2 box sizes, not 2 and 2}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128, 16384], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @dim_negative(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map dims entry -1 is not 1 to 2^32 (or 0: from the source at launch)}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, -1], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

// A run-time (0) entry needs a source of run-time shape.
func.func @dim_zero_static_source(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': source 0 is 'memref<1x2x128x64xbf16>'; tensor maps read f16 or bf16 memrefs, static unless the map has run-time (0) entries}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 0], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

// A source of run-time shape needs run-time entries (its extent is unknown).
func.func @static_map_dynamic_source(%k: memref<?x2x?x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': source 0 is 'memref<?x2x?x64xbf16>'; tensor maps read f16 or bf16 memrefs, static unless the map has run-time (0) entries}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128, 2, 1], strides = [128, 16384, 32768], box = [64, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @dynamic_box_too_wide(%k: memref<?x2x?x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': the inner box dimension is 256 bytes, more than the 128-byte swizzle span}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 0, 2, 0], strides = [128, 0, 0], box = [128, 64, 1, 1], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @box_too_large(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map box entry 512 is not 1 to 256}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 16384], strides = [128], box = [64, 512], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @stride(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map stride 120 (dim 1) is not a positive multiple of 16 bytes below 2^40 (or 0: from the source at launch)}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [120], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @swizzle(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map swizzle 96 is not 0, 32, 64 or 128 bytes}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 96>} : memref<16xi64>
  return
}

// -----

func.func @negative_source(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{tensor_map source must be a kernel argument number >= 0, got -1}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = -1, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @not_an_argument(%k: memref<1x2x128x64xbf16>, %o: memref<32xi32>) {
  // expected-error @+1 {{'attn.tensor_map': source 7 is not an argument of the enclosing function}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 7, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @not_half(%k: memref<1x2x128x64xbf16>, %o: memref<32xi32>) {
  // expected-error @+1 {{'attn.tensor_map': source 1 is 'memref<32xi32>'; tensor maps read f16 or bf16 memrefs, static unless the map has run-time (0) entries}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 1, dims = [16], strides = [], box = [16], swizzle = 0>} : memref<16xi64>
  return
}

// -----

func.func @larger_than_source(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map' describes 65536 bytes of source 0, which holds 32768}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 512], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}

// -----

func.func @inner_box_not_16_bytes(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': the inner box dimension is 14 bytes, not a multiple of 16}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128], box = [7, 64], swizzle = 0>} : memref<16xi64>
  return
}

// -----

func.func @wider_than_swizzle(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': the inner box dimension is 128 bytes, more than the 64-byte swizzle span}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 64>} : memref<16xi64>
  return
}

// -----

func.func @wrong_memref(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map': a tensor map is memref<16xi64> (128 bytes), not 'memref<32xi32>'}}
  %tm = memref.alloc() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 128>} : memref<32xi32>
  return
}

// -----

func.func @on_alloca(%k: memref<1x2x128x64xbf16>) {
  // expected-error @+1 {{'attn.tensor_map' belongs on the memref.alloc of a tensor map, not on 'memref.alloca'}}
  %tm = memref.alloca() {attn.tensor_map = #attn.tensor_map<source = 0, dims = [64, 128], strides = [128], box = [64, 64], swizzle = 128>} : memref<16xi64>
  return
}
