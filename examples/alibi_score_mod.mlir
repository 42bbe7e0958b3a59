// ALiBi as a score_mod (no new op needed): logit += slope(h) * (kv - q) with
// the standard slopes 2^(-8 (h + 1) / H), causal through a mask_mod, and
// packed sequences through segment ids.
func.func @alibi(%q: tensor<1x8x512x64xf32>, %k: tensor<1x8x512x64xf32>,
                 %v: tensor<1x8x512x64xf32>,
                 %qseg: tensor<1x512xi32>, %kseg: tensor<1x512xi32>)
    -> tensor<1x8x512x64xf32> {
  %o = attn.attention %q, %k, %v
      segment_ids(%qseg, %kseg : tensor<1x512xi32>, tensor<1x512xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        %c1 = arith.constant 1 : index
        %h1 = arith.addi %h, %c1 : index
        %hi = arith.index_cast %h1 : index to i64
        %hf = arith.sitofp %hi : i64 to f32
        %step = arith.constant -1.0 : f32   // -8 / H with H = 8 heads
        %e = arith.mulf %hf, %step : f32
        %slope = math.exp2 %e : f32
        %d = arith.subi %ki, %qi : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %bias = arith.mulf %slope, %df : f32
        %r = arith.addf %s, %bias : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %qi: index, %ki: index):
        %c = arith.cmpi ule, %ki, %qi : index
        attn.yield %c : i1
      }
      : tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>, tensor<1x8x512x64xf32>
      -> tensor<1x8x512x64xf32>
  return %o : tensor<1x8x512x64xf32>
}
