/*===- gqa_decode.c - a downstream C user of libattn.so ------------------===*
 *
 * A ragged GQA decode step through the C API: two sequences of 40 and 17
 * cached tokens (kv_lengths), one query each, checked against a float64
 * loop. Links Attn::C (libattn.so) and nothing else of attn.
 *
 *===---------------------------------------------------------------------===*/
#include <attn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 2, HQ = 8, HKV = 2, SKV = 40, D = 64 };

static float q[B][HQ][1][D], k[B][HKV][SKV][D], v[B][HKV][SKV][D],
    out[B][HQ][1][D];

static float noise(unsigned *state) { /* uniform in [-1, 1) */
  *state = *state * 1664525u + 1013904223u;
  return (float)((*state >> 8) * (2.0 / 16777216.0) - 1.0);
}

int main(void) {
  unsigned seed = 18;
  for (float *p = &q[0][0][0][0]; p < &q[0][0][0][0] + sizeof q / 4; ++p)
    *p = noise(&seed);
  for (float *p = &k[0][0][0][0]; p < &k[0][0][0][0] + sizeof k / 4; ++p)
    *p = noise(&seed);
  for (float *p = &v[0][0][0][0]; p < &v[0][0][0][0] + sizeof v / 4; ++p)
    *p = noise(&seed);
  int32_t lengths[B] = {40, 17};

  attn_runtime *rt = NULL;
  attn_kernel *kernel = NULL;
  if (attn_runtime_create(2, &rt) != ATTN_OK ||
      attn_compile(rt, "gqa:b=2,hq=8,hkv=2,sq=1,skv=40,d=64,ragged",
                   ATTN_TARGET_CPU, NULL, &kernel) != ATTN_OK) {
    fprintf(stderr, "gqa-decode-c: %s\n", attn_last_error());
    return 1;
  }
  int64_t qs[4] = {B, HQ, 1, D}, ks[4] = {B, HKV, SKV, D}, ls[1] = {B};
  attn_buffer qb = {q, ATTN_F32, 4, qs, NULL, ATTN_HOST},
              kb = {k, ATTN_F32, 4, ks, NULL, ATTN_HOST},
              vb = {v, ATTN_F32, 4, ks, NULL, ATTN_HOST},
              ob = {out, ATTN_F32, 4, qs, NULL, ATTN_HOST},
              lb = {lengths, ATTN_I32, 1, ls, NULL, ATTN_HOST};
  attn_args args = {0};
  args.query = &qb;
  args.key = &kb;
  args.value = &vb;
  args.output = &ob;
  args.kv_lengths = &lb;
  if (attn_kernel_run(kernel, &args) != ATTN_OK) {
    fprintf(stderr, "gqa-decode-c: %s\n", attn_last_error());
    return 1;
  }

  double worst = 0; /* error over the f32 tolerance 2e-5 + 2e-5 |ref| */
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h) {
      int g = h / (HQ / HKV), n = lengths[b];
      double p[SKV], mx = -INFINITY, sum = 0;
      for (int j = 0; j < n; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d)
          dot += (double)q[b][h][0][d] * k[b][g][j][d];
        p[j] = dot / sqrt((double)D);
        mx = p[j] > mx ? p[j] : mx;
      }
      for (int j = 0; j < n; ++j)
        sum += p[j] = exp(p[j] - mx);
      for (int d = 0; d < D; ++d) {
        double ref = 0;
        for (int j = 0; j < n; ++j)
          ref += p[j] / sum * v[b][g][j][d];
        double err = fabs(out[b][h][0][d] - ref) / (2e-5 + 2e-5 * fabs(ref));
        if (isnan(err) || err > worst)
          worst = isnan(err) ? INFINITY : err;
      }
    }
  attn_cache_stats stats;
  attn_runtime_cache_stats(rt, &stats);
  printf("gqa-decode-c: ragged B=%d Hq=%d Hkv=%d D=%d, max error %.3f of the "
         "f32 tolerance vs float64 (%lld compile) -> %s\n",
         B, HQ, HKV, D, worst, (long long)stats.compiles,
         worst <= 1 ? "ok" : "FAIL");
  attn_kernel_destroy(kernel);
  attn_runtime_destroy(rt);
  return worst <= 1 ? 0 : 1;
}
