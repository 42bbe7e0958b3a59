// ALiBi as a score_mod (no new op needed): logit += slope[h] * (kv - q),
// causal through a mask_mod, and packed sequences through segment ids.
func.func @alibi(%q: tensor<1x8x512x64xf32>, %k: tensor<1x8x512x64xf32>,
                 %v: tensor<1x8x512x64xf32>, %slopes: tensor<8xf32>,
                 %qseg: tensor<1x512xi32>, %kseg: tensor<1x512xi32>)
    -> tensor<1x8x512x64xf32> {
  %o = attn.attention %q, %k, %v
      segment_ids(%qseg, %kseg : tensor<1x512xi32>, tensor<1x512xi32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %qi: index, %ki: index):
        %slope = tensor.extract %slopes[%h] : tensor<8xf32>
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
