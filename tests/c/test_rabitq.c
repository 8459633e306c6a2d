/* test_rabitq.c: the rabitq codec: parameters, zero and NaN rows, serialization, the estimator's
 * unbiasedness, and the error bound's coverage on the shipped sentence-embedding sample. */
#include <math.h>
#include <stdlib.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/io/npy.h"
#include "../../src/kernels/rabitq_kernels.h"
#include "vectro.h"
#include "vtest.h"

/* Byte offsets in a serialized codec (codec.c: a 40-byte header, then bits at +0, seed at +24). */
#define SER_SEED_OFFSET 64
#define SER_BITS_OFFSET 40
/* The bound's confidence constant (rabitq.c's EPS0), to report coverage at other values. */
#define EPS 3.0

static vec_codec *make(size_t d, unsigned bits, uint64_t seed) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, d);
  p.bits = bits;
  p.seed = seed;
  vec_codec *c = NULL;
  return vec_codec_create(&p, &c) == VEC_OK ? c : NULL;
}

static void test_params(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, 16);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG && c == NULL);
  CHECK(strstr(vec_last_error_message(), "bits") != NULL);
  p.bits = 9;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "1..8") != NULL);
  for (unsigned b = 1; b <= 8; b++) {
    c = make(100, b, 1);
    CHECK(c != NULL);
    CHECK(vec_codec_code_size(c) == (100 * b + 7) / 8);
    CHECK(vec_codec_scale_count(c) == 3);
    CHECK(!vec_codec_needs_training(c) && vec_codec_is_trained(c));
    vec_codec_free(c);
  }
  vec_codec_id id;
  CHECK(vec_codec_from_name("rabitq", &id) == VEC_OK && id == VEC_CODEC_RABITQ);
}

/* Zero rows: defined codes, factors 0, estimates and bounds 0, decode 0; NaN rows named. */
static void test_zero_and_nan(void) {
  size_t d = 37;
  for (unsigned b = 1; b <= 8; b++) {
    vec_codec *c = make(d, b, 5);
    CHECK(c);
    float x[3 * 37] = {0}, out[3 * 37], sc[9];
    uint8_t codes[3 * 37];
    uint64_t s = 3;
    for (size_t j = 0; j < d; j++) x[d + j] = vt_normal(&s), x[2 * d + j] = vt_normal(&s);
    CHECK(vec_codec_encode(c, x, 2, d, codes, sc, NULL) == VEC_OK);
    CHECK(sc[0] == 0.0f && sc[1] == 0.0f && sc[2] == 0.0f);
    CHECK(vec_codec_decode(c, codes, sc, 2, out, d, NULL) == VEC_OK);
    for (size_t j = 0; j < 2 * d; j++) CHECK(isfinite(out[j]));
    for (size_t j = 0; j < d; j++) CHECK(out[j] == 0.0f);
    const vec_codec_ops *o = c->ops;
    float *qs = malloc(o->query_size(c)), ip[2], err[2];
    CHECK(qs);
    o->query_prepare(c, x + 2 * d, qs);
    o->score(c, qs, 1, codes, sc, 2, ip, err, 2);
    CHECK(ip[0] == 0.0f && err[0] == 0.0f && isfinite(ip[1]) && isfinite(err[1]));
    free(qs);
    x[2 * d + 5] = NAN;
    CHECK(vec_codec_encode(c, x, 3, d, codes, sc, NULL) == VEC_E_NONFINITE);
    CHECK(vec_last_error_row() == 2);
    vec_codec_free(c);
  }
}

static void test_serialize(void) {
  vec_codec *c = make(300, 3, 0xfeedULL);
  CHECK(c);
  size_t sz = vec_codec_serialized_size(c);
  uint8_t *buf = malloc(sz);
  CHECK(buf && vec_codec_serialize(c, buf, sz) == VEC_OK);
  vec_codec *c2 = NULL;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  CHECK(vec_codec_get_params(c2)->seed == 0xfeedULL && vec_codec_get_params(c2)->bits == 3);
  float x[2 * 300], a[2 * 300], b2[2 * 300], sa[6], sb[6];
  uint8_t ca[2 * 113], cb[2 * 113];
  uint64_t s = 8;
  for (size_t j = 0; j < 600; j++) x[j] = vt_normal(&s);
  CHECK(vec_codec_code_size(c) == 113);
  CHECK(vec_codec_encode(c, x, 2, 300, ca, sa, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, x, 2, 300, cb, sb, NULL) == VEC_OK);
  CHECK(memcmp(ca, cb, sizeof ca) == 0 && memcmp(sa, sb, sizeof sa) == 0);
  CHECK(vec_codec_decode(c2, ca, sa, 2, a, 300, NULL) == VEC_OK);
  /* Another seed is another rotation: the same codes decode to something else. */
  vec_codec *c3 = make(300, 3, 0xfeeeULL);
  CHECK(c3 && vec_codec_decode(c3, ca, sa, 2, b2, 300, NULL) == VEC_OK);
  CHECK(memcmp(a, b2, sizeof a) != 0);
  /* A file whose (checksummed) parameters say 9 bits is refused with the reason. */
  uint8_t *b9 = malloc(sz);
  CHECK(b9);
  memcpy(b9, buf, sz);
  b9[SER_BITS_OFFSET] = 9;
  uint32_t crc = vec_crc32c(0, b9, sz - 4);
  for (int i = 0; i < 4; i++) b9[sz - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
  vec_codec *bad9 = NULL;
  CHECK(vec_codec_deserialize(b9, sz, &bad9) == VEC_E_FORMAT && bad9 == NULL);
  CHECK(strstr(vec_last_error_message(), "1..8") != NULL);
  free(b9);
  /* A corrupted seed fails the checksum. */
  buf[SER_SEED_OFFSET] ^= 1;
  vec_codec *bad = NULL;
  CHECK(vec_codec_deserialize(buf, sz, &bad) == VEC_E_FORMAT && bad == NULL);
  vec_codec_free(c), vec_codec_free(c2), vec_codec_free(c3);
  free(buf);
}

/* Relative error of decode and the estimate against q.x, all bit widths; and bit-identical
 * codes on every ISA (the rotation is; the rest is plain C). */
static void test_isas_and_quality(void) {
  size_t d = 129, n = 50;
  float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
  uint8_t *c0 = malloc(n * d), *c1 = malloc(n * d);
  float sc0[150], sc1[150];
  uint64_t s = 4;
  CHECK(x && y && c0 && c1);
  for (size_t j = 0; j < n * d; j++) x[j] = vt_normal(&s) + 0.3f;
  int isas[8], ni = vt_isas(isas);
  double last_err = 1e9;
  for (unsigned b = 1; b <= 8; b++) {
    vec_codec *c = make(d, b, 77);
    CHECK(c);
    CHECK(vec_set_isa(VEC_ISA_SCALAR) == VEC_OK);
    CHECK(vec_codec_encode(c, x, n, d, c0, sc0, NULL) == VEC_OK);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      CHECK(vec_codec_encode(c, x, n, d, c1, sc1, NULL) == VEC_OK);
      CHECK(memcmp(c0, c1, n * vec_codec_code_size(c)) == 0);
      CHECK(memcmp(sc0, sc1, sizeof sc0) == 0);
    }
    CHECK(vec_codec_decode(c, c0, sc0, n, y, d, NULL) == VEC_OK);
    double e2 = 0, x2 = 0;
    for (size_t j = 0; j < n * d; j++)
      e2 += (y[j] - x[j]) * (double)(y[j] - x[j]), x2 += x[j] * x[j];
    double rel = sqrt(e2 / x2);
    /* More bits, smaller error; 8 bits is close to exact. */
    CHECKF(rel < last_err, "bits %u rel err %g (prev %g)", b, rel, last_err);
    last_err = rel;
    if (b == 8) CHECKF(rel < 0.01, "8-bit rel err %g", rel);
    vec_codec_free(c);
  }
  free(x), free(y), free(c0), free(c1);
}

/* Unbiasedness: over many seeds (rotations), the mean of estimate - q.x is ~0 within a few
 * standard errors, at 1 and 4 bits. */
static void test_unbiased(void) {
  size_t d = 64;
  float x[64], q[64], sc[3];
  uint8_t code[64];
  uint64_t s = 12;
  for (size_t j = 0; j < d; j++) x[j] = vt_normal(&s), q[j] = vt_normal(&s) + 0.5f * x[j];
  double truth = 0;
  for (size_t j = 0; j < d; j++) truth += (double)x[j] * q[j];
  unsigned bits[2] = {1, 4};
  for (int bi = 0; bi < 2; bi++) {
    double sum = 0, sum2 = 0;
    const int trials = 3000;
    for (int t = 0; t < trials; t++) {
      vec_codec *c = make(d, bits[bi], 1000 + (uint64_t)t);
      CHECK(c);
      CHECK(vec_codec_encode(c, x, 1, d, code, sc, NULL) == VEC_OK);
      float *qs = malloc(c->ops->query_size(c)), ip, err;
      CHECK(qs);
      c->ops->query_prepare(c, q, qs);
      c->ops->score(c, qs, 1, code, sc, 1, &ip, &err, 1);
      double e = ip - truth;
      sum += e, sum2 += e * e;
      free(qs);
      vec_codec_free(c);
    }
    double mean = sum / trials, sd = sqrt(sum2 / trials - mean * mean);
    CHECKF(fabs(mean) < 4.0 * sd / sqrt((double)trials) + 1e-4 * fabs(truth),
           "bits %u mean error %g sd %g truth %g", bits[bi], mean, sd, truth);
    CHECK(sd > 0.0);
  }
}

static char *sample_path(const char *name) {
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/c/test_rabitq.c");
  size_t pre = cut ? (size_t)(cut - f) : 0;
  char *p = malloc(pre + strlen(name) + 16);
  if (!p) return NULL;
  memcpy(p, f, pre);
  strcpy(p + pre, "data/sample/");
  strcat(p, name);
  return p;
}

/* On real sentence embeddings (all-MiniLM-L6-v2, d = 384): the share of (query, row) pairs whose
 * exact q.x lies outside estimate +- bound is at most 1% at 1 and 4 bits (measured: see
 * RABITQ_NOTES.md), and estimates are unbiased on average. */
static void test_bound_coverage_sample(void) {
  char *pc = sample_path("corpus.npy"), *pq = sample_path("queries.npy");
  float *xb = NULL, *xq = NULL;
  size_t n, d, nq, dq;
  CHECK(pc && pq);
  int rc1 = vec_npy_read_f32(pc, &xb, &n, &d), rc2 = vec_npy_read_f32(pq, &xq, &nq, &dq);
  free(pc), free(pq);
  if (rc1 || rc2) {
    printf("    sample data not found: skipped\n");
    free(xb), free(xq);
    return;
  }
  CHECK(d == dq);
  n = n < 1000 ? n : 1000;
  nq = nq < 50 ? nq : 50;
  unsigned bits[2] = {1, 4};
  for (int bi = 0; bi < 2; bi++) {
    vec_codec *c = make(d, bits[bi], 42);
    CHECK(c);
    uint8_t *codes = malloc(n * vec_codec_code_size(c));
    float *sc = malloc(n * 3 * sizeof(float)), *ip = malloc(n * sizeof(float));
    float *err = malloc(n * sizeof(float)), *qs = malloc(c->ops->query_size(c));
    CHECK(codes && sc && ip && err && qs);
    CHECK(vec_codec_encode(c, xb, n, d, codes, sc, NULL) == VEC_OK);
    size_t miss = 0, total = 0, miss19 = 0, miss25 = 0;
    double bias = 0;
    for (size_t qi = 0; qi < nq; qi++) {
      c->ops->query_prepare(c, xq + qi * d, qs);
      c->ops->score(c, qs, 1, codes, sc, n, ip, err, n);
      for (size_t r = 0; r < n; r++) {
        double t = 0;
        for (size_t j = 0; j < d; j++) t += (double)xq[qi * d + j] * xb[r * d + j];
        miss += fabs(t - ip[r]) > err[r];
        miss19 += fabs(t - ip[r]) > err[r] * (1.9 / EPS);
        miss25 += fabs(t - ip[r]) > err[r] * (2.5 / EPS);
        bias += ip[r] - t;
        total++;
      }
    }
    double frac = (double)miss / (double)total;
    /* stdout, after the suite's first line (scripts read that line to see the ISA). */
    printf("    bits %u: %.4f%% of %zu pairs outside the bound (eps0 1.9: %.3f%%, 2.5: %.3f%%), "
           "mean error %.2e\n",
           bits[bi], 100.0 * frac, total, 100.0 * (double)miss19 / (double)total,
           100.0 * (double)miss25 / (double)total, bias / (double)total);
    CHECKF(frac <= 0.01, "bits %u: %.4f of pairs outside estimate +- bound", bits[bi], frac);
    CHECK(fabs(bias / (double)total) < 0.01);
    free(codes), free(sc), free(ip), free(err), free(qs);
    vec_codec_free(c);
  }
  free(xb), free(xq);
}

/* Scores and bounds of every ISA equal the scalar reference's bit for bit (integer dot products),
 * all bit widths, odd d, unaligned codes; the VPOPCNTDQ 1-bit kernel where the CPU has it. */
static void test_score_isas(void) {
  const size_t dims[] = {1, 7, 63, 64, 65, 129, 300};
  int isas[8], ni = vt_isas(isas);
  uint64_t s = 21;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di], n = 37;
    float *x = malloc(n * d * sizeof(float)), *q = malloc(2 * d * sizeof(float));
    float *sc = malloc(n * 3 * sizeof(float)), ip0[74], er0[74], ip1[74], er1[74];
    uint8_t *codes = malloc(n * d + 1);
    CHECK(x && q && sc && codes);
    for (size_t j = 0; j < n * d; j++) x[j] = vt_normal(&s);
    for (size_t j = 0; j < 2 * d; j++) q[j] = vt_normal(&s);
    for (unsigned b = 1; b <= 8; b++) {
      vec_codec *c = make(d, b, 9);
      CHECK(c);
      /* Unaligned rows whose last byte touches a guard page: no kernel may read past a row. */
      size_t cs = vec_codec_code_size(c);
      void *gh;
      size_t gz;
      uint8_t *cu = vt_guarded_alloc(n * cs, &gh, &gz);
      CHECK(cu);
      CHECK(vec_codec_encode(c, x, n, d, codes, sc, NULL) == VEC_OK);
      memcpy(cu, codes, n * cs);
      size_t qz = c->ops->query_size(c);
      uint8_t *qs = malloc(2 * qz);
      CHECK(qs);
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        c->ops->query_prepare(c, q, qs);
        c->ops->query_prepare(c, q + d, qs + qz);
        c->ops->score(c, qs, 2, cu, sc, n, k ? ip1 : ip0, k ? er1 : er0, n);
        if (k)
          CHECKF(memcmp(ip0, ip1, 2 * n * sizeof(float)) == 0 &&
                     memcmp(er0, er1, 2 * n * sizeof(float)) == 0,
                 "isa %s d=%zu bits %u", vec_isa_name((vec_isa)isas[k]), d, b);
      }
      /* The estimates track the exact products (loosely: this is about the plumbing). */
      for (size_t r = 0; r < n; r++) {
        double t = 0;
        for (size_t j = 0; j < d; j++) t += (double)q[j] * x[r * d + j];
        CHECKF(fabs(t - ip0[r]) <= 2.0 * er0[r] + 1e-4, "d=%zu bits %u row %zu: %g vs %g +- %g", d,
               b, r, t, (double)ip0[r], (double)er0[r]);
      }
      free(qs);
      vt_guarded_free(gh, gz);
      vec_codec_free(c);
    }
    free(x), free(q), free(sc), free(codes);
  }
#if defined(VEC_HAVE_X86_KERNELS)
  if (vec_cpu_features() & VEC_CPU_AVX512VPOPCNTDQ) {
    uint64_t planes[8 * 5];
    uint8_t code[3 * 37 + 1];
    int64_t a[3], b2[3];
    for (size_t i = 0; i < 40; i++) planes[i] = vt_next(&s);
    for (size_t i = 0; i < sizeof code; i++) code[i] = (uint8_t)vt_next(&s);
    vec_rq_dot1_scalar(planes, 5, code + 1, 37, 3, a);
    vec_rq_dot1_avx512vpop(planes, 5, code + 1, 37, 3, b2);
    CHECK(memcmp(a, b2, sizeof a) == 0);
  }
#endif
}

const vt_test rabitq_tests[] = {{"rabitq_score_isas", test_score_isas},
                                {"rabitq_params", test_params},
                                {"rabitq_zero_and_nan", test_zero_and_nan},
                                {"rabitq_serialize", test_serialize},
                                {"rabitq_isas_and_quality", test_isas_and_quality},
                                {"rabitq_unbiased", test_unbiased},
                                {"rabitq_bound_coverage_sample", test_bound_coverage_sample}};
const size_t rabitq_count = sizeof rabitq_tests / sizeof rabitq_tests[0];
