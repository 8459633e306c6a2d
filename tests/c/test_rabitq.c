/* test_rabitq.c: the rabitq codec, uncentred and centred: parameters, zero and NaN rows, training
 * and serialization, the estimator's unbiasedness, and the error bound's coverage on the shipped
 * sentence-embedding sample. */
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

/* A centred codec trained on n rows of x (NULL on failure). */
static vec_codec *make_centred(size_t d, unsigned bits, uint64_t seed, const float *x, size_t n) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, d);
  p.bits = bits;
  p.seed = seed;
  p.center = 1;
  vec_codec *c = NULL;
  if (vec_codec_create(&p, &c) != VEC_OK) return NULL;
  if (vec_codec_train(c, x, n, d) != VEC_OK) {
    vec_codec_free(c);
    return NULL;
  }
  return c;
}

/* The centre of a trained centred codec, from its serialized form (the state, d float32, ends
 * just before the CRC). */
static void centre_of(const vec_codec *c, float *out) {
  size_t sz = vec_codec_serialized_size(c), d = c->d;
  uint8_t *buf = malloc(sz);
  CHECK(buf && vec_codec_serialize(c, buf, sz) == VEC_OK);
  if (buf) memcpy(out, buf + sz - 4 - 4 * d, 4 * d);
  free(buf);
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

/* center: not for the float codecs, 0 or 1; a centred codec has 4 scales, needs training and
 * refuses to encode before it; training needs 2 finite rows and names a bad one. */
static void test_centred_params(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_F16, 16);
  p.center = 1;
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG && c == NULL);
  CHECK(strstr(vec_last_error_message(), "does not apply to 'f16'") != NULL);
  vec_codec_params r = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, 16);
  r.bits = 2, r.center = 2;
  CHECK(vec_codec_create(&r, &c) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "0 or 1") != NULL);
  r.center = 1;
  CHECK(vec_codec_create(&r, &c) == VEC_OK);
  CHECK(vec_codec_scale_count(c) == 4 && vec_codec_code_size(c) == 4);
  CHECK(vec_codec_needs_training(c) && !vec_codec_is_trained(c));
  float x[3 * 16], sc[12];
  uint8_t codes[12];
  uint64_t s = 40;
  for (size_t j = 0; j < 3 * 16; j++) x[j] = vt_normal(&s);
  CHECK(vec_codec_encode(c, x, 1, 16, codes, sc, NULL) == VEC_E_NOT_TRAINED);
  CHECK(strstr(vec_last_error_message(), "vec_codec_train") != NULL);
  CHECK(vec_codec_train(c, x, 1, 16) == VEC_E_INVALID_ARG && !vec_codec_is_trained(c));
  CHECK(strstr(vec_last_error_message(), "at least 2") != NULL);
  x[2 * 16 + 5] = NAN;
  CHECK(vec_codec_train(c, x, 3, 16) == VEC_E_NONFINITE && vec_last_error_row() == 2);
  CHECK(!vec_codec_is_trained(c));
  CHECK(vec_codec_train(c, x, 2, 16) == VEC_OK && vec_codec_is_trained(c));
  CHECK(vec_codec_encode(c, x, 2, 16, codes, sc, NULL) == VEC_OK);
  x[5] = INFINITY;
  CHECK(vec_codec_encode(c, x, 2, 16, codes, sc, NULL) == VEC_E_NONFINITE);
  CHECK(vec_last_error_row() == 0);
  vec_codec_free(c);
  /* An uncentred codec ignores training, as before. */
  c = make(16, 2, 1);
  CHECK(c && vec_codec_train(c, x + 16, 1, 16) == VEC_OK && vec_codec_scale_count(c) == 3);
  vec_codec_free(c);
}

/* The centre is the mean of the training rows, computed in double (to float rounding of the exact
 * mean), the same bits for any thread count; train_max samples every (n / train_max)-th row. A row
 * equal to the centre decodes to it, a zero row's c.x term is 0. */
static void test_centred_training(void) {
  size_t d = 24, n = 20000; /* several MEAN_BLOCKs, so that threads split the sum */
  float *x = malloc(n * d * sizeof(float)), c1[24], c2[24];
  CHECK(x);
  uint64_t s = 41;
  for (size_t j = 0; j < n * d; j++) x[j] = vt_normal(&s) + (float)(j % d) * 0.25f;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, d);
  p.bits = 3, p.center = 1;
  vec_codec *a = NULL, *b = NULL;
  CHECK(vec_codec_create(&p, &a) == VEC_OK && vec_codec_create(&p, &b) == VEC_OK);
  vec_batch_opts one = VEC_BATCH_OPTS_INIT, many = VEC_BATCH_OPTS_INIT;
  one.threads = 1, many.threads = 4;
  CHECK(vec_codec_train_opts(a, x, n, d, &one) == VEC_OK);
  CHECK(vec_codec_train_opts(b, x, n, d, &many) == VEC_OK);
  centre_of(a, c1), centre_of(b, c2);
  CHECK(memcmp(c1, c2, sizeof c1) == 0);
  for (size_t j = 0; j < d; j++) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m += x[i * d + j];
    m /= (double)n;
    CHECKF(c1[j] == (float)m, "dim %zu: centre %.9g, mean %.9g", j, (double)c1[j], m);
  }
  /* A row at the centre: codes 0, s1 = s2 = 0, decodes to the centre exactly. */
  float row[2 * 24] = {0}, out[2 * 24], sc[8];
  uint8_t codes[2 * 9];
  memcpy(row, c1, sizeof c1);
  CHECK(vec_codec_encode(a, row, 2, d, codes, sc, NULL) == VEC_OK);
  CHECK(sc[1] == 0.0f && sc[2] == 0.0f && sc[3] > 0.0f && sc[4] == 0.0f && sc[7] == 0.0f);
  CHECK(vec_codec_decode(a, codes, sc, 1, out, d, NULL) == VEC_OK);
  CHECK(memcmp(out, c1, sizeof c1) == 0);
  vec_codec_free(b);
  /* train_max = 100 of 20000 rows: rows 0, 200, 400, ... */
  p.train_max = 100;
  CHECK(vec_codec_create(&p, &b) == VEC_OK && vec_codec_train(b, x, n, d) == VEC_OK);
  centre_of(b, c2);
  for (size_t j = 0; j < d; j++) {
    double m = 0;
    for (size_t i = 0; i < 100; i++) m += x[i * 200 * d + j];
    CHECKF(c2[j] == (float)(m / 100.0), "dim %zu: sampled centre %.9g, mean %.9g", j, (double)c2[j],
           m / 100.0);
  }
  vec_codec_free(a), vec_codec_free(b);
  free(x);
}

/* Rewrites the CRC of a serialized codec after an edit. */
static void reseal(uint8_t *buf, size_t sz) {
  uint32_t crc = vec_crc32c(0, buf, sz - 4);
  for (int i = 0; i < 4; i++) buf[sz - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

/* A centred codec serializes as version 2.0 with its centre, round-trips to identical codes and
 * decodes, and a corrupt centre (NaN, a wrong length) is refused even under a valid checksum. An
 * untrained one keeps center and stays untrained. */
static void test_centred_serialize(void) {
  size_t d = 40, n = 30;
  float x[30 * 40], ya[30 * 40], yb[30 * 40], sa[120], sb[120];
  uint8_t ca[30 * 20], cb[30 * 20];
  uint64_t s = 42;
  for (size_t j = 0; j < n * d; j++) x[j] = vt_normal(&s) + 1.0f;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, d);
  p.bits = 4, p.center = 1, p.seed = 7;
  vec_codec *u = NULL, *c = NULL, *c2 = NULL;
  CHECK(vec_codec_create(&p, &u) == VEC_OK);
  size_t su = vec_codec_serialized_size(u);
  uint8_t *bu = malloc(su);
  CHECK(bu && vec_codec_serialize(u, bu, su) == VEC_OK);
  CHECK(bu[4] == 2 && bu[6] == 0);
  CHECK(vec_codec_deserialize(bu, su, &c2) == VEC_OK);
  CHECK(vec_codec_get_params(c2)->center == 1 && !vec_codec_is_trained(c2));
  CHECK(vec_codec_scale_count(c2) == 4);
  vec_codec_free(c2), vec_codec_free(u), free(bu);

  c = make_centred(d, 4, 7, x, n);
  CHECK(c);
  size_t sz = vec_codec_serialized_size(c);
  CHECK(sz == 40 + 32 + 8 + 8 + 4 * d + 4);
  uint8_t *buf = malloc(sz), *bad = malloc(sz);
  CHECK(buf && bad && vec_codec_serialize(c, buf, sz) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK && vec_codec_is_trained(c2));
  CHECK(vec_codec_get_params(c2)->center == 1 && vec_codec_get_params(c2)->seed == 7);
  CHECK(vec_codec_encode(c, x, n, d, ca, sa, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, x, n, d, cb, sb, NULL) == VEC_OK);
  CHECK(memcmp(ca, cb, sizeof ca) == 0 && memcmp(sa, sb, sizeof sa) == 0);
  CHECK(vec_codec_decode(c, ca, sa, n, ya, d, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c2, ca, sa, n, yb, d, NULL) == VEC_OK);
  CHECK(memcmp(ya, yb, sizeof ya) == 0);
  vec_codec_free(c2);
  /* A NaN or an Inf in the centre, resealed: refused by value, not by checksum. */
  const float nasty[2] = {NAN, INFINITY};
  for (int k = 0; k < 2; k++) {
    memcpy(bad, buf, sz);
    memcpy(bad + sz - 4 - 4 * d + 4 * 3, &nasty[k], 4);
    reseal(bad, sz);
    c2 = NULL;
    CHECK(vec_codec_deserialize(bad, sz, &c2) == VEC_E_FORMAT && c2 == NULL);
    CHECKF(strstr(vec_last_error_message(), "centre value 3") != NULL, "%s",
           vec_last_error_message());
  }
  /* A centre of the wrong length (the state size says d - 1 floats), resealed. */
  memcpy(bad, buf, sz);
  size_t ss_off = sz - 4 - 4 * d - 8;
  bad[ss_off] = (uint8_t)(4 * (d - 1));
  memmove(bad + sz - 8, bad + sz - 4, 4); /* the file is 4 bytes shorter: */
  reseal(bad, sz - 4);
  CHECK(vec_codec_deserialize(bad, sz - 4, &c2) == VEC_E_FORMAT);
  CHECKF(strstr(vec_last_error_message(), "centre of") != NULL, "%s", vec_last_error_message());
  /* Any flipped bit is refused (the checksum, or the version for the major). */
  for (size_t byte = 0; byte < sz; byte += 7) {
    memcpy(bad, buf, sz);
    bad[byte] ^= 0x10;
    int rc = vec_codec_deserialize(bad, sz, &c2);
    CHECKF(rc == VEC_E_FORMAT || rc == VEC_E_VERSION, "byte %zu rc %d", byte, rc);
  }
  /* The same bytes read as version 1.1 (a reader that does not know centring would see them so)
   * are refused, not misread. */
  memcpy(bad, buf, sz);
  bad[4] = 1, bad[6] = 1;
  reseal(bad, sz);
  CHECK(vec_codec_deserialize(bad, sz, &c2) != VEC_OK);
  vec_codec_free(c);
  free(buf), free(bad);
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
 * standard errors, at 1 and 4 bits, uncentred and centred (on the mean of 16 rows around x). */
static void test_unbiased(void) {
  size_t d = 64;
  float x[64], q[64], sc[4], train[16 * 64];
  uint8_t code[64];
  uint64_t s = 12;
  for (size_t j = 0; j < d; j++) x[j] = vt_normal(&s) + 1.0f, q[j] = vt_normal(&s) + 0.5f * x[j];
  for (size_t j = 0; j < 16 * d; j++) train[j] = x[j % d] + 0.5f * vt_normal(&s);
  double truth = 0;
  for (size_t j = 0; j < d; j++) truth += (double)x[j] * q[j];
  unsigned bits[3] = {1, 4, 8};
  for (int bi = 0; bi < 5; bi++) {
    double sum = 0, sum2 = 0;
    const int trials = 3000;
    int centred = bi >= 2;
    for (int t = 0; t < trials; t++) {
      uint64_t seed = 1000 + (uint64_t)t;
      vec_codec *c =
          centred ? make_centred(d, bits[bi % 2], seed, train, 16) : make(d, bits[bi % 2], seed);
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
           "bits %u centred %d mean error %g sd %g truth %g", bits[bi % 2], centred, mean, sd,
           truth);
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
  double sumerr_plain[2] = {0, 0};
  n = n < 1000 ? n : 1000;
  nq = nq < 50 ? nq : 50;
  unsigned bits[3] = {1, 4, 8};
  for (int bi = 0; bi < 5; bi++) {
    /* Uncentred, then centred on the mean of the 1000 rows. */
    int centred = bi >= 2 && bi < 4;
    unsigned b = bits[bi == 4 ? 2 : bi % 2];
    vec_codec *c = centred ? make_centred(d, b, 42, xb, n) : make(d, b, 42);
    CHECK(c);
    uint8_t *codes = malloc(n * vec_codec_code_size(c));
    float *sc = malloc(n * 4 * sizeof(float)), *ip = malloc(n * sizeof(float));
    float *err = malloc(n * sizeof(float)), *qs = malloc(c->ops->query_size(c));
    CHECK(codes && sc && ip && err && qs);
    CHECK(vec_codec_encode(c, xb, n, d, codes, sc, NULL) == VEC_OK);
    size_t miss = 0, total = 0, miss19 = 0, miss25 = 0;
    double bias = 0, sumerr = 0;
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
        sumerr += err[r];
        total++;
      }
    }
    double frac = (double)miss / (double)total;
    /* stdout, after the suite's first line (scripts read that line to see the ISA). */
    printf("    bits %u%s: %.4f%% of %zu pairs outside the bound (eps0 1.9: %.3f%%, 2.5: %.3f%%), "
           "mean error %.2e, mean bound %.4f\n",
           b, centred ? " centred" : "", 100.0 * frac, total,
           100.0 * (double)miss19 / (double)total, 100.0 * (double)miss25 / (double)total,
           bias / (double)total, sumerr / (double)total);
    CHECKF(frac <= 0.01, "bits %u centred %d: %.4f of pairs outside estimate +- bound", b, centred,
           frac);
    /* Centring shrinks the bound (|q - c| |x - c| instead of |q| |x|). */
    if (centred)
      CHECKF(sumerr < 0.95 * sumerr_plain[bi % 2], "centred bound %g, uncentred %g", sumerr,
             sumerr_plain[bi % 2]);
    else if (bi < 2)
      sumerr_plain[bi] = sumerr;
    CHECK(fabs(bias / (double)total) < 0.01);
    free(codes), free(sc), free(ip), free(err), free(qs);
    vec_codec_free(c);
  }
  free(xb), free(xq);
}

/* Element j of a row of b-bit codes, bit by bit. */
static unsigned ref_code(const uint8_t *row, size_t j, unsigned b) {
  unsigned v = 0;
  for (unsigned i = 0; i < b; i++) v |= ((row[(j * b + i) / 8] >> ((j * b + i) % 8)) & 1u) << i;
  return v;
}

/* The estimate of a row from a prepared query (b >= 2), as rabitq.c documents its layout: a
 * 64-byte head (float delta at 0, the int64 sum of the int8 query at 16), then the int8 query,
 * element j at index j, or (b = 2, 4) at (j % e) cs + j / e for e = 8 / b fields a byte. */
static float expected_estimate(const uint8_t *qs, const uint8_t *row, size_t cs, size_t d,
                               unsigned b, const float *sc, int centred) {
  float delta, qk, cn;
  int64_t sumq, dot = 0;
  memcpy(&delta, qs, sizeof delta);
  memcpy(&qk, qs + 12, sizeof qk);
  memcpy(&sumq, qs + 16, sizeof sumq);
  memcpy(&cn, qs + 24, sizeof cn);
  const int8_t *body = (const int8_t *)(qs + 64);
  size_t e = 8 / b;
  for (size_t j = 0; j < d; j++)
    dot += (int64_t)ref_code(row, j, b) * body[b == 2 || b == 4 ? j % e * cs + j / e : j];
  float yq = (float)(2 * dot - ((1 << b) - 1) * sumq);
  /* Centred: (q - c).(x - c) + (q.c - |c|^2) + c.x, with qk = q.c - |c|^2 at 12 in the head, |c|
   * at 24, and c.x = s3 - |c| s0. */
  if (centred) return sc[1] * (delta * yq) + (qk + (sc[3] - cn * sc[0]));
  return sc[1] * (delta * yq);
}

/* Scores and bounds of every ISA equal the scalar reference's bit for bit (integer dot products),
 * all bit widths, odd d, unaligned codes, uncentred and centred; the VPOPCNTDQ 1-bit kernel where
 * the CPU has it. d = 16390 takes the path that unpacks rows too long for rabitq.c's buffer in
 * pieces. */
static void test_score_isas(void) {
  const size_t dims[] = {1, 7, 63, 64, 65, 129, 300, 16390};
  int isas[8], ni = vt_isas(isas);
  uint64_t s = 21;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
    for (int centred = 0; centred < 2; centred++) {
      size_t d = dims[di], n = 37, ns = centred ? 4 : 3;
      float *x = malloc(n * d * sizeof(float)), *q = malloc(2 * d * sizeof(float));
      float *sc = malloc(n * 4 * sizeof(float)), ip0[74], er0[74], ip1[74], er1[74];
      uint8_t *codes = malloc(n * d + 1);
      CHECK(x && q && sc && codes);
      /* Off-centre data (mean 0.7 a coordinate), where centring changes every code. */
      for (size_t j = 0; j < n * d; j++) x[j] = vt_normal(&s) + 0.7f;
      for (size_t j = 0; j < 2 * d; j++) q[j] = vt_normal(&s) + 0.7f;
      for (unsigned b = 1; b <= 8; b++) {
        vec_codec *c = centred ? make_centred(d, b, 9, x, n) : make(d, b, 9);
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
                   "isa %s d=%zu bits %u centred %d", vec_isa_name((vec_isa)isas[k]), d, b,
                   centred);
        }
        /* Exactly the estimate written out from the codes, bit by bit, and the prepared query. */
        for (size_t qi = 0; b >= 2 && qi < 2; qi++)
          for (size_t r = 0; r < n; r++) {
            float want =
                expected_estimate(qs + qi * qz, cu + r * cs, cs, d, b, sc + ns * r, centred);
            CHECKF(ip0[qi * n + r] == want,
                   "d=%zu bits %u centred %d query %zu row %zu: %.9g, want %.9g", d, b, centred, qi,
                   r, (double)ip0[qi * n + r], (double)want);
          }
        /* The estimates track the exact products (loosely: this is about the plumbing). */
        for (size_t r = 0; r < n; r++) {
          double t = 0;
          for (size_t j = 0; j < d; j++) t += (double)q[j] * x[r * d + j];
          CHECKF(fabs(t - ip0[r]) <= 2.0 * er0[r] + 1e-4 * (1.0 + fabs(t)),
                 "d=%zu bits %u centred %d row %zu: %g vs %g +- %g", d, b, centred, r, t,
                 (double)ip0[r], (double)er0[r]);
        }
        free(qs);
        vt_guarded_free(gh, gz);
        vec_codec_free(c);
      }
      free(x), free(q), free(sc), free(codes);
    }
}

/* The byte-dot and unpack kernels of every instruction set (and CPU-feature variant) this machine
 * runs, against integer references written out here. */
typedef struct {
  const char *name;
  vec_rabitq_dot_fn dot;
  vec_rabitq_unpack_fn unpack;
  vec_rabitq_eval_fn eval;
  vec_rabitq_evaln_fn evaln;
  vec_rabitq_sum_fn sum;
  vec_rabitq_sign_fn sign;
} rq_variant;

#define RQ_VARIANT(isa)                                                                            \
  (rq_variant) {                                                                                   \
    #isa, vec_rabitq_dot_##isa, vec_rabitq_unpack_##isa, vec_rabitq_eval_##isa,                    \
        vec_rabitq_evaln_##isa, vec_rabitq_sum_##isa, vec_rabitq_sign_##isa                        \
  }

static int rq_variants(rq_variant *v) {
  int n = 0;
  v[n++] = RQ_VARIANT(scalar);
#if defined(VEC_HAVE_X86_KERNELS)
  if (vec_isa_supported(VEC_ISA_AVX2)) v[n++] = RQ_VARIANT(avx2);
  if (vec_isa_supported(VEC_ISA_AVX512)) {
    v[n++] = RQ_VARIANT(avx512);
    if (vec_cpu_features() & VEC_CPU_AVX512VNNI)
      v[n++] = (rq_variant){"avx512vnni", vec_rabitq_dot_avx512vnni, NULL, NULL, NULL, NULL, NULL};
  }
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  if (vec_isa_supported(VEC_ISA_NEON)) v[n++] = RQ_VARIANT(neon);
#endif
  return n;
}

static const size_t kernel_dims[] = {1,  5,  7,   8,   9,   31,  32,  33,  63,  64,   65,
                                     96, 97, 127, 128, 129, 191, 300, 383, 384, 1000, 8200};

/* The scale search's kernels against the scalar reference, bit for bit: the three sums (odd n;
 * a NaN, which the maximum ignores), eval with its codes, evaln for 1..13 scales at once. */
static void test_search_kernels(void) {
  rq_variant v[8];
  int nv = rq_variants(v);
  uint64_t s = 33;
  for (size_t di = 0; di < sizeof kernel_dims / sizeof kernel_dims[0]; di++) {
    size_t d = kernel_dims[di], dp = (d + VEC_RQ_LANES - 1) / VEC_RQ_LANES * VEC_RQ_LANES;
    float *o = calloc(dp, sizeof(float));
    uint8_t *u0 = malloc(dp), *u1 = malloc(dp);
    CHECK(o && u0 && u1);
    for (size_t j = 0; j < d; j++) o[j] = vt_normal(&s) / sqrtf((float)d);
    for (int k = 1; k < nv; k++) {
      if (!v[k].sum) continue;
      for (int mode = 0; mode < 3; mode++) {
        float a = vec_rabitq_sum_scalar(o, d, mode), b = v[k].sum(o, d, mode);
        CHECKF(memcmp(&a, &b, sizeof a) == 0, "%s sum mode %d d=%zu: %.9g, want %.9g", v[k].name,
               mode, d, (double)b, (double)a);
      }
      float keep = o[d / 2];
      o[d / 2] = NAN;
      float a = vec_rabitq_sum_scalar(o, d, 2), b = v[k].sum(o, d, 2);
      o[d / 2] = keep;
      CHECKF(memcmp(&a, &b, sizeof a) == 0, "%s max with a NaN, d=%zu", v[k].name, d);
      for (unsigned bits = 2; bits <= 8; bits++) {
        float fmin = -(float)(1 << (bits - 1)), fmax = (float)((1 << (bits - 1)) - 1);
        float tmax = (float)(1 << (bits - 1)) / vec_rabitq_sum_scalar(o, d, 2), t[13];
        float ip0[13], nn0[13], ip1[13], nn1[13];
        for (int i = 0; i < 13; i++) t[i] = tmax * (0.8f + 0.15f * (float)i);
        for (int i = 0; i < 13; i++)
          vec_rabitq_eval_scalar(o, dp, t[i], fmin, fmax, i ? NULL : u0, ip0 + i, nn0 + i);
        v[k].eval(o, dp, t[0], fmin, fmax, u1, ip1, nn1);
        CHECKF(ip0[0] == ip1[0] && nn0[0] == nn1[0] && memcmp(u0, u1, dp) == 0,
               "%s eval bits %u d=%zu", v[k].name, bits, d);
        for (size_t nt = 1; nt <= 13; nt++) {
          memset(ip1, 0, sizeof ip1), memset(nn1, 0, sizeof nn1);
          v[k].evaln(o, dp, t, nt, fmin, fmax, ip1, nn1);
          CHECKF(memcmp(ip0, ip1, nt * sizeof(float)) == 0 &&
                     memcmp(nn0, nn1, nt * sizeof(float)) == 0,
                 "%s evaln of %zu scales, bits %u d=%zu", v[k].name, nt, bits, d);
        }
      }
    }
    free(o), free(u0), free(u1);
  }
}

/* 1-bit codes: every variant's sign bytes equal the bit-by-bit reference, for odd d, unaligned
 * input with zeros, -0 and tiny values of both signs (only > 0 sets a bit), and no byte written
 * past ceil(d / 8). */
static void test_sign_kernels(void) {
  rq_variant v[8];
  int nv = rq_variants(v);
  uint64_t s = 77;
  for (size_t di = 0; di < sizeof kernel_dims / sizeof kernel_dims[0]; di++) {
    size_t d = kernel_dims[di], nb = (d + 7) / 8;
    float *buf = calloc(nb * 8 + 1, sizeof(float)), *o = buf + 1; /* unaligned; zero past d */
    uint8_t *want = calloc(nb, 1), *got = malloc(nb + 1);
    CHECK(buf && want && got);
    for (size_t j = 0; j < d; j++) {
      float x = vt_normal(&s);
      o[j] = j % 7 == 3 ? 0.0f : j % 11 == 5 ? -0.0f : j % 13 == 6 ? copysignf(1e-40f, x) : x;
      if (o[j] > 0.0f) want[j / 8] |= (uint8_t)(1u << (j % 8));
    }
    for (int k = 0; k < nv; k++) {
      if (!v[k].sign) continue;
      memset(got, 0xA5, nb + 1);
      v[k].sign(o, d, got);
      CHECKF(memcmp(got, want, nb) == 0 && got[nb] == 0xA5, "%s sign d=%zu", v[k].name, d);
    }
    free(buf), free(want), free(got);
  }
}

/* Unpacked elements equal the bit-by-bit reference for every width, d and variant; rows are
 * unaligned, the last ends at a guard page, and nothing is written past VEC_RQ_UNPACK_PAD(d). */
static void test_unpack_kernels(void) {
  rq_variant v[8];
  int nv = rq_variants(v);
  uint64_t s = 31;
  const unsigned widths[] = {3, 5, 6, 7};
  for (size_t di = 0; di < sizeof kernel_dims / sizeof kernel_dims[0]; di++)
    for (size_t wi = 0; wi < 4; wi++) {
      size_t d = kernel_dims[di], nr = 3;
      unsigned b = widths[wi];
      size_t cs = (d * b + 7) / 8, ld = VEC_RQ_UNPACK_PAD(d) + 8;
      void *gh;
      size_t gz;
      uint8_t *codes = vt_guarded_alloc(nr * cs, &gh, &gz), *out = malloc(nr * ld);
      CHECK(codes && out);
      for (size_t i = 0; i < nr * cs; i++) codes[i] = (uint8_t)vt_next(&s);
      for (int k = 0; k < nv; k++) {
        if (!v[k].unpack) continue;
        memset(out, 0xA5, nr * ld);
        v[k].unpack(codes, cs, nr, d, b, out, ld);
        for (size_t r = 0; r < nr; r++) {
          for (size_t j = 0; j < d; j++)
            CHECKF(out[r * ld + j] == ref_code(codes + r * cs, j, b),
                   "%s b=%u d=%zu row %zu element %zu: %u, want %u", v[k].name, b, d, r, j,
                   out[r * ld + j], ref_code(codes + r * cs, j, b));
          for (size_t j = VEC_RQ_UNPACK_PAD(d); j < ld; j++)
            CHECKF(out[r * ld + j] == 0xA5, "%s b=%u d=%zu wrote byte %zu", v[k].name, b, d, j);
        }
      }
      vt_guarded_free(gh, gz);
      free(out);
    }
}

/* One dot product written out: fields of 2 and 4-bit rows, else one byte per element. */
static int64_t ref_dot(const int8_t *q, const uint8_t *row, size_t cs, size_t d, unsigned b) {
  int64_t t = 0;
  if (b == 2 || b == 4) {
    for (size_t k = 0; k < cs; k++)
      for (unsigned f = 0; f < 8 / b; f++)
        t += (int64_t)((row[k] >> (f * b)) & ((1u << b) - 1)) * q[f * cs + k];
  } else {
    for (size_t j = 0; j < d; j++) t += (int64_t)row[j] * q[j];
  }
  return t;
}

/* The 1-bit kernels of every instruction set and CPU-feature variant (VPOPCNTDQ, VNNI) against
 * sum_j q_j u_j written out, with the query laid out as rabitq_kernels.h says (bit planes of
 * q + 128, then the bytes of q): random values, then every bit set against +-127. Codes have zero
 * bits past d (as encoded); rows unaligned, the last ending at a guard page. */
static void test_dot1_kernels(void) {
  struct {
    const char *name;
    vec_rabitq_dot1_fn fn;
  } v[8];
  int nv = 0;
  v[nv].name = "scalar", v[nv++].fn = vec_rabitq_dot1_scalar;
#if defined(VEC_HAVE_X86_KERNELS)
  unsigned f = vec_cpu_features();
  if (vec_isa_supported(VEC_ISA_AVX2)) v[nv].name = "avx2", v[nv++].fn = vec_rabitq_dot1_avx2;
  if (vec_isa_supported(VEC_ISA_AVX512)) {
    v[nv].name = "avx512", v[nv++].fn = vec_rabitq_dot1_avx512;
    if (f & VEC_CPU_AVX512VPOPCNTDQ)
      v[nv].name = "avx512vpop", v[nv++].fn = vec_rabitq_dot1_avx512vpop;
    if (f & VEC_CPU_AVX512VNNI) v[nv].name = "avx512vnni", v[nv++].fn = vec_rabitq_dot1_avx512vnni;
  }
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  if (vec_isa_supported(VEC_ISA_NEON)) v[nv].name = "neon", v[nv++].fn = vec_rabitq_dot1_neon;
#endif
  uint64_t s = 34;
  for (size_t di = 0; di < sizeof kernel_dims / sizeof kernel_dims[0]; di++)
    for (int extreme = 0; extreme < 3; extreme++) {
      size_t d = kernel_dims[di], nr = 6, cs = (d + 7) / 8, w = (d + 63) / 64;
      void *gh;
      size_t gz;
      uint8_t *codes = vt_guarded_alloc(nr * cs, &gh, &gz);
      uint64_t *planes = calloc(16 * w, sizeof(uint64_t)); /* 8 w words, then 64 w bytes */
      int8_t *q = (int8_t *)(planes + 8 * w);
      CHECK(codes && planes);
      memset(codes, 0, nr * cs);
      for (size_t r = 0; r < nr; r++)
        for (size_t j = 0; j < d; j++)
          if (extreme || vt_next(&s) % 2) codes[r * cs + j / 8] |= (uint8_t)(1u << (j % 8));
      for (size_t j = 0; j < d; j++) {
        q[j] = (int8_t)(extreme == 1 ? 127 : extreme == 2 ? -127 : (int)(vt_next(&s) % 255) - 127);
        unsigned u = (unsigned)(q[j] + 128);
        for (unsigned k = 0; k < 8; k++)
          planes[8 * (j / 64) + k] |= (uint64_t)((u >> k) & 1u) << (j % 64);
      }
      int64_t want[6], got[6];
      for (size_t r = 0; r < nr; r++) {
        want[r] = 0;
        for (size_t j = 0; j < d; j++) want[r] += q[j] * ((codes[r * cs + j / 8] >> (j % 8)) & 1);
      }
      for (int k = 0; k < nv; k++) {
        memset(got, 0, sizeof got);
        v[k].fn(planes, w, codes, cs, nr, got);
        for (size_t r = 0; r < nr; r++)
          CHECKF(got[r] == want[r], "%s d=%zu extreme %d row %zu: %lld, want %lld", v[k].name, d,
                 extreme, r, (long long)got[r], (long long)want[r]);
      }
      vt_guarded_free(gh, gz);
      free(planes);
    }
}

/* Dot products equal the reference exactly for every width, d and variant: random values, then
 * the extremes (every code at its top level against +-127, where int16 or int32 sums would
 * overflow if a kernel let them). Rows unaligned; the codes' last row and the query each end at a
 * guard page. */
static void test_dot_kernels(void) {
  rq_variant v[8];
  int nv = rq_variants(v);
  uint64_t s = 32;
  size_t dims[sizeof kernel_dims / sizeof kernel_dims[0] + 1];
  memcpy(dims, kernel_dims, sizeof kernel_dims);
  dims[sizeof dims / sizeof dims[0] - 1] = 70000; /* 70000 * 255 * 127 > 2^31 */
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
    for (unsigned b = 2; b <= 8; b++)
      for (int extreme = 0; extreme < 3; extreme++) {
        size_t d = dims[di], nr = 5;
        size_t cs = b == 2 || b == 4 ? (d * b + 7) / 8 : d, nq = b == 2 || b == 4 ? 8 / b * cs : d;
        void *gh, *qh;
        size_t gz, qz;
        uint8_t *codes = vt_guarded_alloc(nr * cs, &gh, &gz);
        int8_t *q = vt_guarded_alloc(nq, &qh, &qz);
        CHECK(codes && q);
        unsigned top = b == 2 || b == 4 ? 255u : (1u << b) - 1u;
        for (size_t i = 0; i < nr * cs; i++)
          codes[i] = (uint8_t)(extreme ? top : vt_next(&s) % (top + 1));
        for (size_t i = 0; i < nq; i++)
          q[i] = (int8_t)(extreme == 1   ? 127
                          : extreme == 2 ? -127
                                         : (int)(vt_next(&s) % 255) - 127);
        int64_t want[5], got[5];
        for (size_t r = 0; r < nr; r++) want[r] = ref_dot(q, codes + r * cs, cs, d, b);
        for (int k = 0; k < nv; k++) {
          memset(got, 0, sizeof got);
          v[k].dot(q, codes, cs, nr, d, b, got);
          for (size_t r = 0; r < nr; r++)
            CHECKF(got[r] == want[r], "%s b=%u d=%zu extreme %d row %zu: %lld, want %lld",
                   v[k].name, b, d, extreme, r, (long long)got[r], (long long)want[r]);
        }
        vt_guarded_free(gh, gz);
        vt_guarded_free(qh, qz);
      }
}

const vt_test rabitq_tests[] = {{"rabitq_score_isas", test_score_isas},
                                {"rabitq_unpack_kernels", test_unpack_kernels},
                                {"rabitq_dot_kernels", test_dot_kernels},
                                {"rabitq_dot1_kernels", test_dot1_kernels},
                                {"rabitq_search_kernels", test_search_kernels},
                                {"rabitq_sign_kernels", test_sign_kernels},
                                {"rabitq_params", test_params},
                                {"rabitq_zero_and_nan", test_zero_and_nan},
                                {"rabitq_serialize", test_serialize},
                                {"rabitq_centred_params", test_centred_params},
                                {"rabitq_centred_training", test_centred_training},
                                {"rabitq_centred_serialize", test_centred_serialize},
                                {"rabitq_isas_and_quality", test_isas_and_quality},
                                {"rabitq_unbiased", test_unbiased},
                                {"rabitq_bound_coverage_sample", test_bound_coverage_sample}};
const size_t rabitq_count = sizeof rabitq_tests / sizeof rabitq_tests[0];
