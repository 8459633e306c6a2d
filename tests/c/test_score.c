/* test_score.c: search scoring straight from codes (codec hooks query_prepare / score / sqnorms and
 * their kernels): every kernel variant against the scalar reference (bit for bit for the integer
 * codecs, within a float-reassociation bound for f16/bf16), and the estimates against q . decode(x)
 * within each codec's documented error. */
#include <math.h>
#include <stdlib.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/kernels/score_kernels.h"
#include "vectro.h"
#include "vtest.h"

/* 4096 and 4100: either side of the transposed int4 kernels' limit (vec_score_i4g_fits); 2048 and
 * 2049 of the transposed int8 tile's (search_tmpl.h, ST_MAX_P). */
static const size_t k_dims[] = {1,   2,   3,   7,   8,   15,  16,  31,   33,   63,   64,   65,
                                127, 128, 129, 255, 384, 385, 768, 1023, 2048, 2049, 4096, 4100};
/* 13: a full 8-query register block of the transposed int8 / binary kernels (search_tmpl.h) and a
 * short one (AVX2: three of 4 and one), over 2-3 blocks of rows with a short last block. */
static const size_t k_nq[] = {1, 2, 3, 5, 13};
/* int4 four times: one scale per row, and groups of 32 dims (INT4G below), of 8 (the smallest the
 * transposed x86 kernels take; past 256 groups they hand over to scalar) and of 6 (x86: scalar). */
/* int8-cal twice too: rounded and truncated codes (INT8CALT: levels decode to u + 0.5). */
#define INT4G    ((vec_codec_id)100)
#define INT8CALT ((vec_codec_id)101)
#define INT4G8   ((vec_codec_id)102)
#define INT4G6   ((vec_codec_id)103)
static size_t int4_group(vec_codec_id id) {
  return id == INT4G ? 32 : id == INT4G8 ? 8 : id == INT4G6 ? 6 : 0;
}
static const vec_codec_id k_codecs[] = {
    VEC_CODEC_INT8,     VEC_CODEC_BINARY, VEC_CODEC_F16, VEC_CODEC_BF16,
    VEC_CODEC_INT16,    VEC_CODEC_INT4,   INT4G,         VEC_CODEC_UINT8_CAL,
    VEC_CODEC_INT8_CAL, INT8CALT,         INT4G8,        INT4G6};
static int is_cal(vec_codec_id id) {
  return id == VEC_CODEC_UINT8_CAL || id == VEC_CODEC_INT8_CAL || id == INT8CALT;
}

typedef struct {
  vec_codec *c;
  size_t d, cs, qsize, nr, nq, g, ns; /* g: int4 group as the kernels see it; ns: scales a row */
  unsigned flip;                      /* calibrated: 0x80 for int8-cal levels */
  int trunc;
  float *x, *q, *scales, *dec;
  void *ch, *qh;
  size_t chs, qhs;
  uint8_t *codes, *qs; /* in guarded buffers, unaligned */
} fixture;

static void fixture_free(fixture *f) {
  vec_codec_free(f->c);
  free(f->x);
  free(f->q);
  free(f->scales);
  free(f->dec);
  if (f->ch) vt_guarded_free(f->ch, f->chs);
  if (f->qh) vt_guarded_free(f->qh, f->qhs);
  memset(f, 0, sizeof *f);
}

/* Rows: kind 0 normal, 1 all +-1 (int8 codes at +-127 everywhere: the maddubs worst case), 2 one
 * zero row among normal ones. slack (0..3) bytes between the data and the guard page, so pointers
 * come out unaligned and, with slack 0, any over-read faults. */
static int fixture_make(fixture *f, vec_codec_id id, size_t d, size_t nr, size_t nq, int kind,
                        size_t slack, uint64_t *seed) {
  memset(f, 0, sizeof *f);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(int4_group(id)   ? VEC_CODEC_INT4
                                             : id == INT8CALT ? VEC_CODEC_INT8_CAL
                                                              : id,
                                             d);
  p.group_size = int4_group(id);
  if (id == INT8CALT) p.rounding = VEC_ROUND_TRUNCATE;
  f->flip = id == VEC_CODEC_INT8_CAL || id == INT8CALT ? 0x80u : 0u;
  f->trunc = id == INT8CALT;
  if (vec_codec_create(&p, &f->c) != VEC_OK) return 0;
  f->d = d;
  f->nr = nr;
  f->nq = nq;
  f->cs = vec_codec_code_size(f->c);
  f->g = int4_group(id) && d > int4_group(id) ? int4_group(id) : d;
  f->ns = vec_codec_scale_count(f->c);
  f->qsize = f->c->ops->query_size(f->c);
  f->x = malloc(nr * d * sizeof(float));
  f->q = malloc(nq * d * sizeof(float));
  f->scales = malloc((nr * f->ns + 1) * sizeof(float));
  f->dec = malloc(nr * d * sizeof(float));
  f->codes = vt_guarded_alloc(nr * f->cs + slack, &f->ch, &f->chs);
  f->qs = vt_guarded_alloc(nq * f->qsize + (3 - slack), &f->qh, &f->qhs);
  if (!f->x || !f->q || !f->scales || !f->dec || !f->codes || !f->qs) return 0;
  for (size_t i = 0; i < nr * d; i++)
    f->x[i] = kind == 1 ? (vt_next(seed) & 1 ? 1.0f : -1.0f) : vt_normal(seed);
  if (kind == 2) memset(f->x + (nr / 2) * d, 0, d * sizeof(float));
  for (size_t i = 0; i < nq * d; i++)
    f->q[i] = kind == 1 ? (vt_next(seed) & 1 ? 1.0f : -1.0f) : vt_normal(seed);
  if (is_cal(id) && vec_codec_train(f->c, f->x, nr, d) != VEC_OK) return 0;
  if (vec_codec_encode(f->c, f->x, nr, d, f->codes, f->scales, NULL) != VEC_OK) return 0;
  if (vec_codec_decode(f->c, f->codes, f->scales, nr, f->dec, d, NULL) != VEC_OK) return 0;
  if (id == VEC_CODEC_BINARY && d % 8) /* pad bits must not count: set them */
    for (size_t r = 0; r < nr; r++)
      f->codes[r * f->cs + f->cs - 1] |= (uint8_t)~vec_score_b1_lastmask(d);
  for (size_t j = 0; j < nq; j++)
    f->c->ops->query_prepare(f->c, f->q + j * d, f->qs + j * f->qsize);
  return 1;
}

/* Calls one kernel variant on the fixture. */
typedef struct {
  const char *name;
  vec_score_i8_fn i8;
  vec_score_b1_fn b1;
  vec_score_h_fn h;
  vec_score_i4_fn i4;
  vec_score_u8_fn u8;
  vec_score_i16_fn i16;
} variant;

static void run_variant(const fixture *f, const variant *v, const uint8_t *qs, size_t nq,
                        const uint8_t *codes, const float *scales, size_t nr, float *ip,
                        size_t ldo) {
  if (v->i8) v->i8(qs, f->qsize, nq, (const int8_t *)codes, scales, nr, f->d, ip, ldo);
  if (v->b1) v->b1(qs, f->qsize, nq, codes, nr, f->d, ip, ldo);
  if (v->h) v->h(qs, f->qsize, nq, codes, nr, f->d, ip, ldo);
  if (v->i4) v->i4(qs, f->qsize, nq, codes, scales, nr, f->d, f->g, ip, ldo);
  if (v->u8) v->u8(qs, f->qsize, nq, codes, nr, f->d, f->flip, ip, ldo);
  if (v->i16) v->i16(qs, f->qsize, nq, codes, scales, nr, f->d, ip, ldo);
}

/* The variants of one codec: every table compiled here whose CPU features are present. */
static size_t variants_for(vec_codec_id id, variant *out) {
  const struct {
    const char *name;
    const vec_score_kernels *t;
    vec_isa isa;
  } tabs[] = {
      {"scalar", &vec_score_table_scalar, VEC_ISA_SCALAR},
#if defined(VEC_HAVE_X86_KERNELS)
      {"avx2", &vec_score_table_avx2, VEC_ISA_AVX2},
      {"avx512", &vec_score_table_avx512, VEC_ISA_AVX512},
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
      {"neon", &vec_score_table_neon, VEC_ISA_NEON},
#endif
  };
  unsigned feat = vec_cpu_features();
  size_t n = 0;
  for (size_t i = 0; i < sizeof tabs / sizeof tabs[0]; i++) {
    if (!vec_isa_supported(tabs[i].isa)) continue;
    const vec_score_kernels *t = tabs[i].t;
    int x86 = tabs[i].isa == VEC_ISA_AVX2 || tabs[i].isa == VEC_ISA_AVX512;
    variant v = {tabs[i].name, NULL, NULL, NULL, NULL, NULL, NULL};
    switch ((int)id) {
    case VEC_CODEC_INT8:
      v.i8 = t->i8;
      out[n++] = v;
      if (t->i8_vnni && (feat & VEC_CPU_AVX512VNNI))
        out[n++] = (variant){"vnni", t->i8_vnni, 0, 0, 0, 0, 0};
      if (t->i8_dot && (feat & VEC_CPU_DOTPROD))
        out[n++] = (variant){"sdot", t->i8_dot, 0, 0, 0, 0, 0};
      break;
    case VEC_CODEC_BINARY:
      v.b1 = t->b1;
      out[n++] = v;
      if (t->b1_popcnt && (feat & VEC_CPU_AVX512VPOPCNTDQ))
        out[n++] = (variant){"vpopcntdq", 0, t->b1_popcnt, 0, 0, 0, 0};
      break;
    case VEC_CODEC_F16:
      if (x86 && !(feat & VEC_CPU_F16C)) break;
      v.h = t->f16;
      out[n++] = v;
      break;
    case VEC_CODEC_BF16:
      v.h = t->bf16;
      out[n++] = v;
      break;
    case VEC_CODEC_INT16: /* a table without its own kernel uses the scalar one */
      v.i16 = t->i16 ? t->i16 : vec_score_table_scalar.i16;
      out[n++] = v;
      break;
    case VEC_CODEC_INT4:
    case INT4G:
    case INT4G8:
    case INT4G6:
      v.i4 = t->i4;
      out[n++] = v;
      if (t->i4_vnni && (feat & VEC_CPU_AVX512VNNI))
        out[n++] = (variant){"vnni", 0, 0, 0, t->i4_vnni, 0, 0};
      if (t->i4_dot && (feat & VEC_CPU_DOTPROD))
        out[n++] = (variant){"sdot", 0, 0, 0, t->i4_dot, 0, 0};
      break;
    default: /* calibrated; a table without its own kernel uses the scalar one */
      v.u8 = t->u8 ? t->u8 : vec_score_u8_scalar;
      out[n++] = v;
      if (t->u8_vnni && (feat & VEC_CPU_AVX512VNNI))
        out[n++] = (variant){"vnni", 0, 0, 0, 0, t->u8_vnni, 0};
      break;
    }
  }
  return n;
}

/* sum_j |q_j| |x^_j| for one pair: the scale of float reassociation error. */
static double abs_dot(const float *q, const float *x, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) s += fabs((double)q[j] * x[j]);
  return s;
}

static int float_codec(vec_codec_id id) {
  return id == VEC_CODEC_F16 || id == VEC_CODEC_BF16 || id == VEC_CODEC_INT16;
}

/* Every variant against scalar; and each row scored alone gives the bits it got in the block. */
static void test_kernels_match_scalar(void) {
  uint64_t seed = 11;
  variant vs[8];
  for (size_t ci = 0; ci < sizeof k_codecs / sizeof k_codecs[0]; ci++) {
    vec_codec_id id = k_codecs[ci];
    size_t nv = variants_for(id, vs);
    CHECK(nv >= 1);
    for (size_t di = 0; di < sizeof k_dims / sizeof k_dims[0]; di++)
      for (size_t qi = 0; qi < sizeof k_nq / sizeof k_nq[0]; qi++) {
        /* nr rarely a multiple of 4; with 5 queries past two 16-row tiles */
        size_t d = k_dims[di], nq = k_nq[qi],
               nr = 5 + (d + qi) % 9 +
                    (nq == 5    ? 29
                     : nq == 13 ? 61
                                : 0);
        int kind = (int)((di + qi) % 3);
        fixture f;
        CHECK(fixture_make(&f, id, d, nr, nq, kind, (di + qi) % 4, &seed));
        size_t ldo = nr + 3;
        float *ref = calloc(nq * ldo, sizeof(float)), *got = calloc(nq * ldo, sizeof(float));
        CHECK(ref && got);
        run_variant(&f, &vs[0], f.qs, nq, f.codes, f.scales, nr, ref, ldo);
        for (size_t vi = 0; vi < nv; vi++) {
          for (size_t i = 0; i < nq * ldo; i++) got[i] = -7.0f;
          run_variant(&f, &vs[vi], f.qs, nq, f.codes, f.scales, nr, got, ldo);
          for (size_t j = 0; j < nq; j++) {
            CHECKF(got[j * ldo + nr] == -7.0f, "%s wrote past nr", vs[vi].name);
            for (size_t r = 0; r < nr; r++) {
              float a = got[j * ldo + r], b = ref[j * ldo + r];
              if (float_codec(id)) {
                double tol = 1e-5 * abs_dot(f.q + j * d, f.dec + r * d, d) + 1e-30;
                CHECKF(fabs((double)a - b) <= tol, "%s %s d=%zu q%zu r%zu: %.9g vs %.9g",
                       vec_codec_name(id), vs[vi].name, d, j, r, (double)a, (double)b);
              } else {
                CHECKF(memcmp(&a, &b, sizeof a) == 0, "%s %s d=%zu nq=%zu q%zu r%zu: %.9g vs %.9g",
                       f.c->ops->name, vs[vi].name, d, nq, j, r, (double)a, (double)b);
              }
              /* The same row and query alone, at the end of the buffers' shapes. */
              float one = 0.0f;
              run_variant(&f, &vs[vi], f.qs + j * f.qsize, 1, f.codes + r * f.cs,
                          f.ns ? f.scales + r * f.ns : NULL, 1, &one, 1);
              CHECKF(memcmp(&one, &a, sizeof a) == 0, "%s %s d=%zu: row %zu alone %.9g vs %.9g",
                     vec_codec_name(id), vs[vi].name, d, r, (double)one, (double)a);
            }
          }
        }
        free(ref);
        free(got);
        fixture_free(&f);
      }
  }
}

/* The hooks through the codec (whatever ISA is forced) against q . decode(x) in double. */
static void test_estimates_vs_float(void) {
  int isas[8], n = vt_isas(isas);
  uint64_t seed = 23;
  for (int ii = 0; ii < n; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    for (size_t ci = 0; ci < sizeof k_codecs / sizeof k_codecs[0]; ci++)
      for (size_t di = 0; di < sizeof k_dims / sizeof k_dims[0]; di++) {
        vec_codec_id id = k_codecs[ci];
        size_t d = k_dims[di], nq = 3, nr = 7;
        fixture f;
        CHECK(fixture_make(&f, id, d, nr, nq, (int)(di % 3), di % 4, &seed));
        float ip[3 * 7];
        f.c->ops->score(f.c, f.qs, nq, f.codes, f.scales, nr, ip, NULL, nr);
        for (size_t j = 0; j < nq; j++) {
          const float *q = f.q + j * d;
          float sq;
          memcpy(&sq, f.qs + j * f.qsize, sizeof sq);
          for (size_t r = 0; r < nr; r++) {
            const float *x = f.dec + r * d;
            double exact = 0, xa = 0, est = ip[j * nr + r], tol;
            for (size_t k = 0; k < d; k++) exact += (double)q[k] * x[k], xa += fabs((double)x[k]);
            double qa = abs_dot(q, x, d);
            if (id == VEC_CODEC_INT8 || id == VEC_CODEC_INT4 || int4_group(id)) {
              /* Rounding q moves each q_j by at most sq/2. */
              tol = 0.5 * sq * xa * (1 + 1e-6) + 1e-5 * (qa + fabs(exact));
            } else if (is_cal(id)) {
              /* Rounding w = q * step moves each w_j by at most sw/2; levels t_j <= 255.5. */
              float sw;
              memcpy(&sw, f.qs + j * f.qsize, sizeof sw);
              const vec_codec *cc = f.c;
              double ts = 0, fl = 0;
              for (size_t k = 0; k < d; k++) {
                double t = (double)(f.codes[r * d + k] ^ f.flip) + (f.trunc ? 0.5 : 0.0);
                ts += t;
                fl += fabs((double)q[k] * cc->lo[k]) + fabs((double)q[k] * cc->step[k]) * t;
              }
              tol = 0.5 * sw * ts * (1 + 1e-6) + 1e-5 * fl + 1e-6;
            } else if (id == VEC_CODEC_BINARY) {
              /* Exactly q^ . x^ with q^ = sign(q) mean|q| (sign: bit = q > 0). */
              double mq = 0, e2 = 0;
              for (size_t k = 0; k < d; k++) mq += fabs((double)q[k]);
              mq /= (double)d;
              for (size_t k = 0; k < d; k++) e2 += (q[k] > 0 ? mq : -mq) * x[k];
              exact = e2;
              tol = 1e-6 * mq * (double)d;
            } else {
              tol = 1e-5 * qa + 1e-30;
            }
            CHECKF(isfinite(est) && fabs(est - exact) <= tol, "%s %s d=%zu: %.9g vs %.9g (tol %g)",
                   vec_isa_name((vec_isa)isas[ii]), vec_codec_name(id), d, est, exact, tol);
          }
        }
        fixture_free(&f);
      }
  }
}

/* A zero query (int8 scale 0, binary mean 0) and zero rows (scale 0) give exact zeros. */
static void test_zeros(void) {
  int isas[8], n = vt_isas(isas);
  for (int ii = 0; ii < n; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    for (size_t ci = 0; ci < sizeof k_codecs / sizeof k_codecs[0]; ci++) {
      size_t d = 65, nr = 6;
      if (int4_group(k_codecs[ci]) || k_codecs[ci] == INT8CALT) continue;
      vec_codec_params p = VEC_CODEC_PARAMS_INIT(k_codecs[ci], d);
      vec_codec *c = NULL;
      CHECK(vec_codec_create(&p, &c) == VEC_OK);
      float x[6 * 65] = {0}, q[65] = {0}, scales[6], ip[6];
      uint8_t codes[6 * 130], qs[1024];
      CHECK(c->ops->query_size(c) <= sizeof qs);
      for (size_t i = 0; i < 3 * d; i++) x[i] = (float)(i % 7) - 3.0f; /* rows 3..5 stay 0 */
      if (is_cal(k_codecs[ci])) CHECK(vec_codec_train(c, x, nr, d) == VEC_OK);
      CHECK(vec_codec_encode(c, x, nr, d, codes, scales, NULL) == VEC_OK);
      c->ops->query_prepare(c, q, qs);
      c->ops->score(c, qs, 1, codes, scales, nr, ip, NULL, nr);
      for (size_t r = 0; r < nr; r++)
        CHECKF(ip[r] == 0.0f, "%s row %zu: %g", c->ops->name, r, (double)ip[r]);
      for (size_t j = 0; j < d; j++) q[j] = 1.0f;
      c->ops->query_prepare(c, q, qs);
      c->ops->score(c, qs, 1, codes, scales, nr, ip, NULL, nr);
      for (size_t r = 3; r < nr; r++)
        if (k_codecs[ci] != VEC_CODEC_BINARY && !is_cal(k_codecs[ci])) /* not 0 when decoded */
          CHECKF(ip[r] == 0.0f, "%s zero row %zu: %g", c->ops->name, r, (double)ip[r]);
      for (size_t r = 0; r < nr; r++) CHECK(isfinite(ip[r]));
      vec_codec_free(c);
    }
  }
}

/* d beyond the int32-exact limit: the dot of codes at 127 everywhere is 127^2 d > 2^31. */
static void test_int8_large_d(void) {
  size_t d = 140000;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  float *x = malloc(2 * d * sizeof(float)), scales[2], ip[2];
  int8_t *codes = malloc(2 * d);
  uint8_t *qs = malloc(c->ops->query_size(c));
  CHECK(x && codes && qs);
  for (size_t i = 0; i < 2 * d; i++) x[i] = i < d ? 1.0f : -1.0f;
  CHECK(vec_codec_encode(c, x, 2, d, codes, scales, NULL) == VEC_OK);
  c->ops->query_prepare(c, x, qs);
  int isas[8], n = vt_isas(isas);
  for (int ii = 0; ii < n; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    c->ops->score(c, qs, 1, (const uint8_t *)codes, scales, 2, ip, NULL, 2);
    CHECKF(fabs(ip[0] - (double)d) <= 1e-5 * d && fabs(ip[1] + (double)d) <= 1e-5 * d, "%g %g",
           (double)ip[0], (double)ip[1]);
  }
  free(x);
  free(codes);
  free(qs);
  vec_codec_free(c);
}

/* sqnorms: int8 s^2 sum c^2 against |decode(x)|^2; binary d. */
static void test_sqnorms(void) {
  uint64_t seed = 5;
  const vec_codec_id ids[] = {VEC_CODEC_INT8, VEC_CODEC_BINARY};
  for (size_t ci = 0; ci < 2; ci++)
    for (size_t di = 0; di < sizeof k_dims / sizeof k_dims[0]; di++) {
      fixture f;
      size_t d = k_dims[di];
      CHECK(fixture_make(&f, ids[ci], d, 9, 1, (int)(di % 3), 0, &seed));
      float out[9];
      f.c->ops->sqnorms(f.c, f.codes, f.scales, 9, out);
      for (size_t r = 0; r < 9; r++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) s += (double)f.dec[r * d + k] * f.dec[r * d + k];
        CHECKF(fabs(out[r] - s) <= 1e-5 * s, "%s d=%zu r=%zu: %g vs %g", vec_codec_name(ids[ci]), d,
               r, (double)out[r], s);
      }
      fixture_free(&f);
    }
}

const vt_test score_tests[] = {{"kernels_match_scalar", test_kernels_match_scalar},
                               {"estimates_vs_float", test_estimates_vs_float},
                               {"zeros", test_zeros},
                               {"int8_large_d", test_int8_large_d},
                               {"sqnorms", test_sqnorms}};
const size_t score_count = sizeof score_tests / sizeof score_tests[0];
