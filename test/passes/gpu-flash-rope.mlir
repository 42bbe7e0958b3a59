// Rotary embedding on the GPU (issue 19 part 2). attn.cache_append rotates
// each key chunk element by element in the append kernel (pair partner and
// table column found from the dim: gpu/RopeKernel.cpp) and drops rows past
// the tables; attn.cache_attention launches a rotation kernel writing the
// rotated queries into scratch, which the unchanged flash kernel reads as
// its Q. Tables of run-time length are a size parameter and a per-call
// check that cos and sin agree.
// RUN: attn-opt %s -split-input-file --attn-gpu-flash --canonicalize | FileCheck %s

// Static NeoX append, rotary_dim = D = 64: rows past the 64-position
// table are not written; each element picks its partner d +- 32 and table
// column d or d - 32, the pair turns (x0 c - x1 s, x1 c + x0 s).
// CHECK-LABEL: func.func @append_neox
// CHECK: gpu.launch_func  @attn_gpu::@append_neox_append blocks in (%c1, %c2, %c2) threads in (%c32, %c1, %c1)  args({{.*}}, %arg6 : memref<2x4xi32>, %arg7 : memref<64x32xf32>, %arg8 : memref<64x32xf32>)
// CHECK: gpu.func @append_neox_append({{.*}}, %[[COS:.*]]: memref<64x32xf32>, %[[SIN:.*]]: memref<64x32xf32>) kernel
// CHECK: %[[POS0:.*]] = arith.addi %{{.*}}, %block_id_x : index
// CHECK: %[[INTAB:.*]] = arith.cmpi slt, %[[POS0]], %c64 : index
// CHECK: %[[VALID:.*]] = arith.andi %{{.*}}, %[[INTAB]] : i1
// CHECK: scf.if %[[VALID]] {
// CHECK: %[[POS:.*]] = arith.addi %{{.*}}, %block_id_x : index
// CHECK: %[[COL:.*]] = arith.muli %thread_id_x, %c8 : index
// CHECK: %[[FIRST:.*]] = arith.cmpi slt, %[[COL]], %c32 : index
// CHECK: %[[BACK:.*]] = arith.subi %[[COL]], %c32 : index
// CHECK: %[[PAIR:.*]] = arith.select %[[FIRST]], %[[COL]], %[[BACK]] : index
// CHECK: %[[UP:.*]] = arith.addi %[[COL]], %c32 : index
// CHECK: %[[PARTNER:.*]] = arith.select %[[FIRST]], %[[UP]], %[[BACK]] : index
// CHECK: %[[ROT:.*]] = arith.cmpi slt, %[[COL]], %c64 : index
// CHECK: %[[P:.*]] = arith.select %[[ROT]], %[[PAIR]], %c0 : index
// CHECK: %[[Q:.*]] = arith.select %[[ROT]], %[[PARTNER]], %[[COL]] : index
// CHECK: %[[XD:.*]] = arith.extf {{.*}} : bf16 to f32
// CHECK: memref.load %arg0[%block_id_z, %block_id_y, %block_id_x, %[[Q]]]
// CHECK: %[[XP:.*]] = arith.extf {{.*}} : bf16 to f32
// CHECK: %[[C:.*]] = memref.load %[[COS]][%[[POS]], %[[P]]] : memref<64x32xf32>
// CHECK: %[[S:.*]] = memref.load %[[SIN]][%[[POS]], %[[P]]] : memref<64x32xf32>
// CHECK: %[[X0:.*]] = arith.select %[[FIRST]], %[[XD]], %[[XP]] : f32
// CHECK: %[[X1:.*]] = arith.select %[[FIRST]], %[[XP]], %[[XD]] : f32
// CHECK: %[[A:.*]] = arith.mulf %[[X0]], %[[C]] : f32
// CHECK: %[[B:.*]] = arith.mulf %[[X1]], %[[S]] : f32
// CHECK: %[[Y0:.*]] = arith.subf %[[A]], %[[B]] : f32
// CHECK: %[[D:.*]] = arith.mulf %[[X1]], %[[C]] : f32
// CHECK: %[[E:.*]] = arith.mulf %[[X0]], %[[S]] : f32
// CHECK: %[[Y1:.*]] = arith.addf %[[D]], %[[E]] : f32
// CHECK: %[[Y:.*]] = arith.select %[[FIRST]], %[[Y0]], %[[Y1]] : f32
// CHECK: arith.select %[[ROT]], %[[Y]], %[[XD]] : f32
// CHECK: vector.from_elements {{.*}} : vector<8xf32>
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK: vector.store {{.*}} : memref<8x16x2x64xbf16>, vector<8xbf16>
// The values are copied as before.
// CHECK: vector.load %arg1{{.*}} : memref<2x2x1x64xbf16>, vector<8xbf16>
// CHECK: gpu.return
func.func @append_neox(%k: memref<2x2x1x64xbf16>, %v: memref<2x2x1x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %n: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<64x32xf32>, %sin: memref<64x32xf32>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<2xi32>) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<64x32xf32>, memref<64x32xf32>) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<2x2x1x64xbf16>, memref<2x2x1x64xbf16> into memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32>
  return
}

// -----

// Run-time sizes (KvStepper's kernels): interleaved, partial rotary_dim 24
// of D = 40, f16 tables [?, 12], HND pages. The tables' length is a size
// parameter after the others; cos and sin must agree per call.
// CHECK-LABEL: func.func @append_interleaved_dynamic
// CHECK: %[[SINP:.*]] = memref.dim %arg8, %c0 : memref<?x12xf16>
// CHECK: %[[COSP:.*]] = memref.dim %arg7, %c0 : memref<?x12xf16>
// CHECK: %[[SAME:.*]] = arith.cmpi eq, %[[SINP]], %[[COSP]] : index
// CHECK: cf.assert %[[SAME]], "rotary_sin has as many positions as rotary_cos"
// CHECK: %[[MAXPOS:.*]] = memref.dim %arg7, %c0 : memref<?x12xf16>
// CHECK: gpu.launch_func  @attn_gpu::@append_interleaved_dynamic_append {{.*}} : memref<f16>, %{{.*}} : memref<f16>, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index, %{{.*}} : index, %[[MAXPOS]] : index)
// CHECK: gpu.func @append_interleaved_dynamic_append({{.*}}, %[[KMAX:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KMAX]], 12], strides: [12, 1] : memref<f16> to memref<?x12xf16, strided<[12, 1]>>
// CHECK: arith.cmpi slt, %{{.*}}, %[[KMAX]] : index
// Interleaved: the pair of dim d is d / 2, its partner d xor 1.
// CHECK: arith.remui %{{.*}}, %c2 : index
// CHECK: arith.divui %{{.*}}, %c2 : index
// CHECK: arith.xori %{{.*}}, %c1 : index
// CHECK: arith.cmpi slt, %{{.*}}, %c24 : index
// CHECK: arith.extf %{{.*}} : f16 to f32
// CHECK: arith.truncf {{.*}} : vector<8xf32> to vector<8xf16>
func.func @append_interleaved_dynamic(%k: memref<?x2x?x40xf16>, %v: memref<?x2x?x40xf16>, %kc: memref<?x2x16x40xf16>, %vc: memref<?x2x16x40xf16>, %len: memref<?xi32>, %n: memref<?xi32>, %bt: memref<?x?xi32>, %cos: memref<?x12xf16>, %sin: memref<?x12xf16>) {
  attn.cache_append %k, %v into %kc, %vc lengths(%len) new_lengths(%n : memref<?xi32>) block_table(%bt : memref<?x?xi32>) rotary(%cos, %sin : memref<?x12xf16>, memref<?x12xf16>) {page_layout = #attn.page_layout<hnd>, rope = #attn.rope<style = interleaved, rotary_dim = 24>} : memref<?x2x?x40xf16>, memref<?x2x?x40xf16> into memref<?x2x16x40xf16>, memref<?x2x16x40xf16>, memref<?xi32>
  return
}

// -----

// Static decode: the rotation kernel (grid Sq x Hq x B, one thread per
// element) writes the rotated queries into scratch of the query's type;
// the flash kernel reads the scratch as Q and is the kernel without RoPE.
// CHECK-LABEL: func.func @attention_neox
// CHECK: %[[RQ:.*]] = memref.alloc() : memref<2x8x1x64xbf16>
// CHECK: gpu.launch_func  @attn_gpu::@attention_neox_rope_q blocks in (%c1, %c8, %c2) threads in (%c64, %c1, %c1)  args(%arg0 : memref<2x8x1x64xbf16>, %arg3 : memref<2xi32>, %arg5 : memref<64x32xf32>, %arg6 : memref<64x32xf32>, %[[RQ]] : memref<2x8x1x64xbf16>)
// CHECK: gpu.launch_func  @attn_gpu::@attention_neox_flash blocks in (%c1, %c2, %c2) threads in (%c128, %c1, %c1)  dynamic_shared_memory_size %{{.*}} args(%[[RQ]] : memref<2x8x1x64xbf16>, %arg1 : memref<8x16x2x64xbf16>, %arg2 : memref<8x16x2x64xbf16>, %arg3 : memref<2xi32>, %arg4 : memref<2x4xi32>, %arg7 : memref<2x8x1x64xbf16>)
// CHECK: gpu.func @attention_neox_rope_q(%[[Q:.*]]: memref<2x8x1x64xbf16>, %[[LEN:.*]]: memref<2xi32>, %[[COS:.*]]: memref<64x32xf32>, %[[SIN:.*]]: memref<64x32xf32>, %[[OUT:.*]]: memref<2x8x1x64xbf16>) kernel
// CHECK: scf.if
// Query s of Sq sits at lengths[b] - Sq + s, clamped into the table.
// CHECK: %[[L:.*]] = memref.load %[[LEN]][%block_id_z] : memref<2xi32>
// CHECK: %[[LI:.*]] = arith.index_cast %[[L]] : i32 to index
// CHECK: %[[E:.*]] = arith.addi %[[LI]], %block_id_x : index
// CHECK: %[[P0:.*]] = arith.subi %[[E]], %c1 : index
// CHECK: %[[P1:.*]] = arith.minsi %[[P0]], %c63 : index
// CHECK: %[[POS:.*]] = arith.maxsi %[[P1]], %c0 : index
// CHECK: memref.load %[[COS]][%[[POS]], %{{.*}}] : memref<64x32xf32>
// CHECK: memref.load %[[SIN]][%[[POS]], %{{.*}}] : memref<64x32xf32>
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[OUT]][%block_id_z, %block_id_y, %block_id_x, %thread_id_x] : memref<2x8x1x64xbf16>
// CHECK: gpu.func @attention_neox_flash(
// CHECK-NOT: rotary
func.func @attention_neox(%q: memref<2x8x1x64xbf16>, %kc: memref<8x16x2x64xbf16>, %vc: memref<8x16x2x64xbf16>, %len: memref<2xi32>, %bt: memref<2x4xi32>, %cos: memref<64x32xf32>, %sin: memref<64x32xf32>, %o: memref<2x8x1x64xbf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<2x4xi32>) rotary(%cos, %sin : memref<64x32xf32>, memref<64x32xf32>) outs(%o) {rope = #attn.rope<style = neox, rotary_dim = 64>} : memref<2x8x1x64xbf16>, memref<8x16x2x64xbf16>, memref<8x16x2x64xbf16>, memref<2xi32> -> memref<2x8x1x64xbf16>
  return
}

// -----

// Run-time batch and chunk length (GQA 7:1, D = 40): scratch of
// B * Hq * Sq * D elements passed by its base pointer to both kernels; the
// rotation kernel takes batch, Sq and max_pos.
// CHECK-LABEL: func.func @attention_chunk_dynamic
// CHECK: cf.assert %{{.*}}, "the queries fit the cache (Sq <= its capacity)"
// CHECK: %[[B:.*]] = memref.dim %arg0, %c0 : memref<?x14x?x40xf16>
// CHECK: %[[SQ:.*]] = memref.dim %arg0, %c2 : memref<?x14x?x40xf16>
// CHECK: cf.assert %{{.*}}, "rotary_sin has as many positions as rotary_cos"
// CHECK: %[[MAXPOS:.*]] = memref.dim %arg5, %c0 : memref<?x12xf16>
// CHECK: %[[N0:.*]] = arith.muli %[[B]], %c14 : index
// CHECK: %[[N1:.*]] = arith.muli %[[N0]], %[[SQ]] : index
// CHECK: %[[N:.*]] = arith.muli %[[N1]], %c40 : index
// CHECK: %[[RQ:.*]] = memref.alloc(%[[N]]) : memref<?xf16>
// CHECK: %[[RQP:.*]] = memref.reinterpret_cast %[[RQ]] to offset: [0], sizes: [], strides: [] : memref<?xf16> to memref<f16>
// CHECK: gpu.launch_func  @attn_gpu::@attention_chunk_dynamic_rope_q blocks in (%[[SQ]], %c14, %[[B]]) threads in (%c64, %c1, %c1)  args({{.*}}, %[[RQP]] : memref<f16>, %[[B]] : index, %[[SQ]] : index, %[[MAXPOS]] : index)
// CHECK: %[[RQF:.*]] = memref.reinterpret_cast %[[RQ]] to offset: [0], sizes: [], strides: [] : memref<?xf16> to memref<f16>
// CHECK: gpu.launch_func  @attn_gpu::@attention_chunk_dynamic_flash {{.*}} args(%[[RQF]] : memref<f16>,
// CHECK: gpu.func @attention_chunk_dynamic_rope_q(%{{.*}}: memref<f16>, %{{.*}}: memref<i32>, %{{.*}}: memref<f16>, %{{.*}}: memref<f16>, %{{.*}}: memref<f16>, %[[KB:.*]]: index, %[[KSQ:.*]]: index, %[[KMAX:.*]]: index) kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KB]], 14, %[[KSQ]], 40]
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[KMAX]], 12], strides: [12, 1]
// CHECK: arith.subi %{{.*}}, %[[KSQ]] : index
// CHECK: arith.subi %[[KMAX]], %c1 : index
// CHECK: arith.xori %thread_id_x, %c1 : index
func.func @attention_chunk_dynamic(%q: memref<?x14x?x40xf16>, %kc: memref<?x2x16x40xf16>, %vc: memref<?x2x16x40xf16>, %len: memref<?xi32>, %bt: memref<?x?xi32>, %cos: memref<?x12xf16>, %sin: memref<?x12xf16>, %o: memref<?x14x?x40xf16>) {
  attn.cache_attention %q, %kc, %vc lengths(%len) block_table(%bt : memref<?x?xi32>) rotary(%cos, %sin : memref<?x12xf16>, memref<?x12xf16>) outs(%o) {mask = #attn.mask<causal = true>, page_layout = #attn.page_layout<hnd>, rope = #attn.rope<style = interleaved, rotary_dim = 24>} : memref<?x14x?x40xf16>, memref<?x2x16x40xf16>, memref<?x2x16x40xf16>, memref<?xi32> -> memref<?x14x?x40xf16>
  return
}
