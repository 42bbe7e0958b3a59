// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @num_rank(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<8x2xi32>, %i: tensor<1x8x2x2xi32>) {
  // expected-error @+1 {{kv_num_blocks must have rank 3 [B, H, Qblocks], got rank 2}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<8x2xi32>, tensor<1x8x2x2xi32>) block_size [64, 128] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @indices_rank(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>, %i: tensor<1x8x2xi32>) {
  // expected-error @+1 {{kv_indices must have rank 4 [B, H, Qblocks, maxBlocks], got rank 3}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi32>, tensor<1x8x2xi32>) block_size [64, 128] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @qblocks(%q: tensor<1x8x129x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>, %i: tensor<1x8x2x2xi32>) {
  // expected-error @+1 {{kv_num_blocks has 2 query blocks but ceil(Sq / q_block) = ceil(129 / 64) = 3}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi32>, tensor<1x8x2x2xi32>) block_size [64, 128] : tensor<1x8x129x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x129x64xf32>
  return
}

// -----

func.func @heads(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x2x2xi32>, %i: tensor<1x2x2x2xi32>) {
  // expected-error @+1 {{kv_num_blocks head dim 2 must be 1 or the query head count 8}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x2x2xi32>, tensor<1x2x2x2xi32>) block_size [64, 128] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @batch(%q: tensor<3x8x128x64xf32>, %k: tensor<3x2x256x64xf32>, %v: tensor<3x2x256x64xf32>, %n: tensor<2x8x2xi32>, %i: tensor<2x8x2x2xi32>) {
  // expected-error @+1 {{kv_num_blocks batch dim 2 must be 1 or the batch size 3}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<2x8x2xi32>, tensor<2x8x2x2xi32>) block_size [64, 128] : tensor<3x8x128x64xf32>, tensor<3x2x256x64xf32>, tensor<3x2x256x64xf32> -> tensor<3x8x128x64xf32>
  return
}

// -----

func.func @indices_prefix(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>, %i: tensor<1x1x2x2xi32>) {
  // expected-error @+1 {{kv_indices shape [1, 1, 2, 2] must start with kv_num_blocks' shape [1, 8, 2]}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi32>, tensor<1x1x2x2xi32>) block_size [64, 128] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @block_size_zero(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>, %i: tensor<1x8x2x2xi32>) {
  // expected-error @+1 {{block_size entries must be in [1, }}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi32>, tensor<1x8x2x2xi32>) block_size [64, 0] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @block_size_arity(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>, %i: tensor<1x8x2x2xi32>) {
  // expected-error @+1 {{block_size must be [q_block, kv_block]}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi32>, tensor<1x8x2x2xi32>) block_size [64] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @element_type(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi64>, %i: tensor<1x8x2x2xi32>) {
  // expected-error @+1 {{op operand #3 must be ranked tensor of 32-bit signless integer values, but got 'tensor<1x8x2xi64>'}}
  %o = attn.attention %q, %k, %v block_mask(%n, %i : tensor<1x8x2xi64>, tensor<1x8x2x2xi32>) block_size [64, 128] : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @size_without_mask(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{block_size needs a block mask (kv_num_blocks, kv_indices)}}
  %o = attn.attention %q, %k, %v {block_size = array<i64: 64, 64>} : tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x128x64xf32>
  return
}

// -----

func.func @one_operand(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %n: tensor<1x8x2xi32>) {
  // expected-error @+1 {{a block mask needs both kv_num_blocks and kv_indices}}
  %o = "attn.attention"(%q, %k, %v, %n) <{block_size = array<i64: 64, 64>, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0>}> ({}, {}) : (tensor<1x8x128x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x8x2xi32>) -> tensor<1x8x128x64xf32>
  return
}
