/* codec_search.c: queries/s of vec_search_codes per codec beside vec_search_f32 on the same rows,
 * one thread, rounds interleaved (codec, f32, codec, ...) so a loaded machine hits both alike.
 * Build: cc -O2 -Iinclude bench/codec_search.c build/libvectro.a -lm -lpthread
 * Run: ./a.out [n] [nq] [rounds] [codec,...]   (default 200000 64 3, every codec below) */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vectro.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: the machine is shared */
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rs = 1;
static float frand(void) {
  rs = rs * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((rs >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000, nq = argc > 2 ? (size_t)atol(argv[2]) : 64;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  const char *list = argc > 4 ? argv[4] : "f16,bf16,int16,int4,int4-g32,uint8-cal,int8-cal,int8";
  size_t d = 384, k = 10;
  float *x = malloc(n * d * sizeof(float)), *q = malloc(nq * d * sizeof(float));
  for (size_t i = 0; i < n * d; i++) x[i] = frand();
  for (size_t i = 0; i < nq * d; i++) q[i] = frand();
  uint64_t *ids = malloc(nq * k * sizeof(uint64_t));
  float *sc = malloc(nq * k * sizeof(float));
  vec_batch_opts one = VEC_BATCH_OPTS_INIT;
  one.threads = 1;
  printf("n %zu, nq %zu, d %zu, rounds %d, one thread (median q/s of process CPU time; ratio in "
         "the same rounds)\n",
         n, nq, d, rounds);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *name = strtok(buf, ","); name; name = strtok(NULL, ",")) {
    vec_codec_params p;
    vec_codec_id id;
    size_t g = 0;
    char base[32];
    snprintf(base, sizeof base, "%s", name);
    if (!strcmp(name, "int4-g32")) snprintf(base, sizeof base, "int4"), g = 32;
    if (vec_codec_from_name(base, &id)) return 1;
    p = (vec_codec_params)VEC_CODEC_PARAMS_INIT(id, d);
    p.group_size = g;
    vec_codec *c;
    if (vec_codec_create(&p, &c)) return 1;
    if (vec_codec_needs_training(c) && vec_codec_train_opts(c, x, n < 20000 ? n : 20000, d, &one))
      return 1;
    size_t cs = vec_codec_code_size(c), ns = vec_codec_scale_count(c);
    uint8_t *codes = malloc(n * cs);
    float *scales = malloc((n * ns + 1) * sizeof(float));
    if (vec_codec_encode(c, x, n, d, codes, scales, &one)) return 1;
    double tc[64], tf[64], ratio[64];
    for (int r = 0; r < rounds && r < 64; r++) {
      double t0 = now();
      if (vec_search_codes(c, codes, scales, n, NULL, q, nq, d, k, VEC_METRIC_IP, ids, sc, &one))
        return 1;
      double t1 = now();
      if (vec_search_f32(x, n, d, d, q, nq, d, k, VEC_METRIC_IP, ids, sc, &one)) return 1;
      double t2 = now();
      tc[r] = t1 - t0;
      tf[r] = t2 - t1;
      ratio[r] = tf[r] / tc[r];
    }
    qsort(tc, (size_t)rounds, sizeof(double), cmpd);
    qsort(tf, (size_t)rounds, sizeof(double), cmpd);
    qsort(ratio, (size_t)rounds, sizeof(double), cmpd);
    printf("%-10s %9.1f q/s  f32 %9.1f q/s  x f32 %.2f  (%zu B/row)\n", name,
           (double)nq / tc[rounds / 2], (double)nq / tf[rounds / 2], ratio[rounds / 2],
           cs + ns * 4);
    fflush(stdout);
    free(codes);
    free(scales);
    vec_codec_free(c);
  }
  return 0;
}
