/* test_search_wide.c: the batched f16 / bf16 / int16 kernels on a widened, transposed tile
 * (src/kernels/search_wide_tmpl.h), as the kernel table hands them out: bit for bit the row-order
 * kernels of the same ISA (so a row scores the same bits whatever nq, tile or thread), within the
 * float-reassociation bound of the scalar reference (1e-5 sum_j |q_j x^_j|, test_score's), on odd
 * d, d past the plane, n past whole tiles, nq 1..65, unaligned and guard-paged buffers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/kernels/kernels.h"
#include "../../src/kernels/search_wide_kernels.h"
#include "vectro.h"
#include "vtest.h"

typedef struct {
  vec_codec *c;
  size_t d, nr, nq, qsize;
  float *q, *dec, *scales;
  uint8_t *codes, *qs; /* guarded, unaligned by `slack` */
  void *ch, *qh;
  size_t chs, qhs;
} wfix;

static void wfix_free(wfix *f) {
  vec_codec_free(f->c);
  free(f->q), free(f->dec), free(f->scales);
  if (f->ch) vt_guarded_free(f->ch, f->chs);
  if (f->qh) vt_guarded_free(f->qh, f->qhs);
}

static int wfix_make(wfix *f, vec_codec_id id, size_t d, size_t nr, size_t nq, size_t slack,
                     uint64_t *seed) {
  memset(f, 0, sizeof *f);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  if (vec_codec_create(&p, &f->c) != VEC_OK) return 0;
  f->d = d, f->nr = nr, f->nq = nq;
  f->qsize = f->c->ops->query_size(f->c);
  size_t cs = vec_codec_code_size(f->c);
  float *x = malloc(nr * d * sizeof(float));
  f->q = malloc(nq * d * sizeof(float));
  f->dec = malloc(nr * d * sizeof(float));
  f->scales = malloc((nr + 1) * sizeof(float));
  f->codes = vt_guarded_alloc(nr * cs + slack, &f->ch, &f->chs);
  f->qs = vt_guarded_alloc(nq * f->qsize + (3 - slack), &f->qh, &f->qhs);
  int ok = x && f->q && f->dec && f->scales && f->codes && f->qs;
  for (size_t i = 0; ok && i < nr * d; i++) x[i] = vt_normal(seed);
  for (size_t i = 0; ok && i < nq * d; i++) f->q[i] = vt_normal(seed);
  ok = ok && vec_codec_encode(f->c, x, nr, d, f->codes, f->scales, NULL) == VEC_OK &&
       vec_codec_decode(f->c, f->codes, f->scales, nr, f->dec, d, NULL) == VEC_OK;
  for (size_t j = 0; ok && j < nq; j++)
    f->c->ops->query_prepare(f->c, f->q + j * d, f->qs + j * f->qsize);
  free(x);
  return ok;
}

static void run(const vec_score_kernels *t, vec_codec_id id, const wfix *f, float *ip, size_t ldo) {
  if (id == VEC_CODEC_INT16)
    t->i16(f->qs, f->qsize, f->nq, f->codes, f->scales, f->nr, f->d, ip, ldo);
  else
    (id == VEC_CODEC_F16 ? t->f16 : t->bf16)(f->qs, f->qsize, f->nq, f->codes, f->nr, f->d, ip,
                                             ldo);
}

typedef struct {
  vec_isa isa;
  const vec_score_kernels *rows; /* the row-order kernels */
  vec_score_h_fn bf16;           /* the batch kernels the table must hold */
  vec_score_i16_fn i16;
} wide_isa;

static void wide_matches_rows_and_scalar(void) {
  static const wide_isa isas[] = {
#if defined(VEC_HAVE_X86_KERNELS)
      {VEC_ISA_AVX2, &vec_score_table_avx2, vec_score_bf16_tile_avx2, vec_score_i16_tile_avx2},
      {VEC_ISA_AVX512, &vec_score_table_avx512, vec_score_bf16_tile_avx512,
       vec_score_i16_tile_avx512},
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
      {VEC_ISA_NEON, &vec_score_table_neon, vec_score_bf16_tile_neon, vec_score_i16_tile_neon},
#endif
      {VEC_ISA_SCALAR, NULL, NULL, NULL}};
  /* 1024 / 1025 and 2048 / 2049: either side of the plane's limit (64 KiB: 16 rows x 1024 dims on
   * x86, 8 x 2048 on NEON), past which the row-order kernels take the call. */
  static const size_t dims[] = {1,   3,   16,   17,   31,   383,  384, 385,
                                512, 513, 1024, 1025, 2048, 2049, 3072};
  /* 7 / 8: either side of the batch kernels' threshold; 17, 65: a short last register block */
  static const size_t nqs[] = {1, 7, 8, 9, 17, 64, 65};
  static const vec_codec_id ids[] = {VEC_CODEC_F16, VEC_CODEC_BF16, VEC_CODEC_INT16};
  uint64_t seed = 23;
  int ran = 0;
  for (size_t ii = 0; isas[ii].rows; ii++) {
    if (!vec_isa_supported(isas[ii].isa)) continue;
    vec_kernels k;
    CHECK(vec_kernels_fill(&k, isas[ii].isa, ~0u));
    const vec_score_kernels *rows = isas[ii].rows;
    CHECK(k.score.bf16 == isas[ii].bf16 && k.score.i16 == isas[ii].i16);
    for (size_t ci = 0; ci < 3; ci++) {
      vec_codec_id id = ids[ci];
      if (id == VEC_CODEC_F16 && isas[ii].isa != VEC_ISA_NEON && !(k.features & VEC_CPU_F16C))
        continue;
      for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (size_t qi = 0; qi < sizeof nqs / sizeof nqs[0]; qi++) {
          size_t d = dims[di], nq = nqs[qi];
          if (d >= 1024 && qi % 2) continue; /* keeps the long rows' share of the time small */
          /* rows: 1, and past one and two tiles (16 / 32 rows) by odd amounts */
          size_t nr = qi == 0 ? 1 : 1 + (d * 7 + nq * 5) % 71;
          wfix f;
          CHECK(wfix_make(&f, id, d, nr, nq, (di + qi) % 4, &seed));
          size_t ldo = nr + 2;
          float *w = malloc(nq * ldo * sizeof(float)), *r = malloc(nq * ldo * sizeof(float)),
                *s = malloc(nq * ldo * sizeof(float));
          CHECK(w && r && s);
          for (size_t i = 0; i < nq * ldo; i++) w[i] = r[i] = s[i] = -7.0f;
          run(&k.score, id, &f, w, ldo);
          run(rows, id, &f, r, ldo);
          run(&vec_score_table_scalar, id, &f, s, ldo);
          for (size_t j = 0; j < nq; j++) {
            CHECKF(w[j * ldo + nr] == -7.0f && w[j * ldo + nr + 1] == -7.0f, "%s %s wrote past nr",
                   vec_isa_name(isas[ii].isa), vec_codec_name(id));
            for (size_t i = 0; i < nr; i++) {
              float a = w[j * ldo + i], b = r[j * ldo + i], c = s[j * ldo + i];
              double sa = 0;
              for (size_t t = 0; t < d; t++) sa += fabs((double)f.q[j * d + t] * f.dec[i * d + t]);
              CHECKF(memcmp(&a, &b, sizeof a) == 0 && fabs((double)a - c) <= 1e-5 * sa + 1e-30,
                     "%s %s d=%zu nq=%zu nr=%zu q%zu r%zu: %.9g rows %.9g scalar %.9g",
                     vec_isa_name(isas[ii].isa), vec_codec_name(id), d, nq, nr, j, i, (double)a,
                     (double)b, (double)c);
            }
          }
          free(w), free(r), free(s);
          wfix_free(&f);
          ran++;
        }
    }
  }
  if (!ran) printf("  skipped: no SIMD instruction set with the batch kernels on this CPU\n");
}

const vt_test search_wide_tests[] = {
    {"wide_matches_rows_and_scalar", wide_matches_rows_and_scalar}};
const size_t search_wide_count = sizeof search_wide_tests / sizeof search_wide_tests[0];
