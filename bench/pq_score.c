/* pq_score.c: rows/s of the pq codec's search hooks (ADC tables, 4-bit fast-scan) and of encoding,
 * one thread. Build: cc -O2 -Iinclude bench/pq_score.c build/dev/libvectro.a -lm -lpthread
 * Run: ./a.out [n_rows] [nq]. Rows are random codes; the codebooks are trained on random data. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/codecs/codec_impl.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rs = 1;
static float frand(void) {
  rs = rs * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rs >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000, nq = argc > 2 ? (size_t)atol(argv[2]) : 8;
  size_t d = 384, nt = 5000;
  float *x = malloc(nt * d * sizeof(float)), *q = malloc(nq * d * sizeof(float));
  for (size_t i = 0; i < nt * d; i++) x[i] = frand();
  for (size_t i = 0; i < nq * d; i++) q[i] = frand();
  vec_batch_opts one = VEC_BATCH_OPTS_INIT;
  one.threads = 1;
  const unsigned ms[] = {48, 96}, bits[] = {4, 8};
  printf("isa %s, n %zu, nq %zu, d %zu\n", vec_isa_name(vec_active_isa()), n, nq, d);
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_PQ, d);
      p.m = ms[a], p.bits = bits[b], p.train_iters = 5;
      vec_codec *c;
      if (vec_codec_create(&p, &c) || vec_codec_train_opts(c, x, nt, d, &one)) return 1;
      size_t cs = vec_codec_code_size(c), qsz = c->ops->query_size(c);
      uint8_t *codes = malloc((n > nt ? n : nt) * cs), *qs = malloc(nq * qsz);
      double t0, enc = 1e9;
      for (int rep = 0; rep < 7; rep++) { /* best of 7: the machine is shared */
        t0 = now();
        vec_codec_encode(c, x, nt, d, codes, NULL, &one);
        enc = now() - t0 < enc ? now() - t0 : enc;
      }
      for (size_t i = 0; i < n * cs; i++) codes[i] = (uint8_t)((frand() + 0.5f) * 255.0f);
      if (bits[b] == 4 && ms[a] % 2) return 1;
      float *ip = malloc(nq * 4096 * sizeof(float));
      for (size_t j = 0; j < nq; j++) c->ops->query_prepare(c, q + j * d, qs + j * qsz);
      double best1 = 1e9, bestn = 1e9;
      for (int rep = 0; rep < 5; rep++) {
        t0 = now();
        for (size_t j = 0; j < nq; j++) /* one query per call: the transpose is not shared */
          for (size_t r = 0; r < n; r += 4096)
            c->ops->score(c, qs + j * qsz, 1, codes + r * cs, NULL, n - r < 4096 ? n - r : 4096, ip,
                          NULL, 4096);
        double t1 = now() - t0;
        t0 = now();
        for (size_t r = 0; r < n; r += 4096) /* all queries per call: one transpose per block */
          c->ops->score(c, qs, nq, codes + r * cs, NULL, n - r < 4096 ? n - r : 4096, ip, NULL,
                        4096);
        double t2 = now() - t0;
        best1 = t1 < best1 ? t1 : best1;
        bestn = t2 < bestn ? t2 : bestn;
      }
      printf("pq-%ux%u: encode %.3f GB/s (%.0f rows/s); score %.1f M rows/s per query (1 query a "
             "call), %.1f M (%zu queries a call)\n",
             ms[a], bits[b], nt * d * 4 / enc / 1e9, nt / enc, n * nq / best1 / 1e6,
             n * nq / bestn / 1e6, nq);
      free(codes), free(qs), free(ip);
      vec_codec_free(c);
    }
  free(x), free(q);
  return 0;
}
