/* test_centre.c: generic centring (params.center on binary, int8, int4, the calibrated codecs and
 * pq) and the uint4-cal codec: a centred codec is its plain twin applied to x - c, bit for bit
 * (codes, decoding, search scores plus q.c, plus the centre correction's w t but for binary), on
 * every ISA; serialization as format 2.2 (2.1 for binary), and 2.1 files read without the
 * correction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vectro.h"
#include "vtest.h"

#define N  300
#define NQ 5

static const vec_codec_id k_ids[] = {VEC_CODEC_BINARY,    VEC_CODEC_INT8,     VEC_CODEC_INT4,
                                     VEC_CODEC_UINT8_CAL, VEC_CODEC_INT8_CAL, VEC_CODEC_PQ,
                                     VEC_CODEC_UINT4_CAL, VEC_CODEC_UINT6_CAL};
static const size_t k_d[] = {7, 16, 33, 64};

static vec_codec_params params_for(vec_codec_id id, size_t d, int center) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  if (id == VEC_CODEC_PQ) p.bits = 4, p.m = d % 2 ? 1 : 2, p.seed = 3;
  p.center = center;
  return p;
}

/* Anisotropic rows: a shared offset of norm ~3 plus unit noise. */
static void make_rows(float *x, size_t n, size_t d, uint64_t *s) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) x[i * d + j] = 3.0f / sqrtf((float)d) + 0.3f * vt_normal(s);
}

static void twin(vec_codec_id id, size_t d) {
  uint64_t s = 17 + d;
  float *x = malloc(N * d * sizeof(float)), *xc = malloc(N * d * sizeof(float));
  float *q = malloc(NQ * d * sizeof(float)), *qc = malloc(NQ * d * sizeof(float));
  float *dec = malloc(N * d * sizeof(float)), *dec2 = malloc(N * d * sizeof(float));
  uint8_t *codes = malloc(N * d * 2 + 64), *codes2 = malloc(N * d * 2 + 64);
  float *sc = malloc(N * 2 * sizeof(float) * d), *sc2 = malloc(N * 2 * sizeof(float) * d);
  make_rows(x, N, d, &s);
  make_rows(q, NQ, d, &s);
  vec_codec_params pc = params_for(id, d, 1), pu = params_for(id, d, 0);
  vec_codec *c = NULL, *u = NULL;
  CHECK(vec_codec_create(&pc, &c) == VEC_OK);
  CHECK(vec_codec_create(&pu, &u) == VEC_OK);
  if (!c || !u) goto out;
  CHECK(vec_codec_needs_training(c) && !vec_codec_is_trained(c));
  CHECK(vec_codec_encode(c, x, 1, d, codes, sc, NULL) == VEC_E_NOT_TRAINED);
  CHECK(vec_codec_train(c, x, N, d) == VEC_OK && vec_codec_is_trained(c));
  /* The centre as documented: the mean in double. */
  float cen[64];
  for (size_t j = 0; j < d; j++) {
    double a = 0.0;
    for (size_t i = 0; i < N; i++) a += x[i * d + j];
    cen[j] = (float)(a / N);
  }
  for (size_t i = 0; i < N * d; i++) xc[i] = x[i] - cen[i % d];
  for (size_t i = 0; i < NQ * d; i++) qc[i] = q[i] - cen[i % d];
  CHECK(vec_codec_train(u, xc, N, d) == VEC_OK);
  CHECK(vec_codec_code_size(c) == vec_codec_code_size(u));
  CHECK(vec_codec_encode(c, x, N, d, codes, sc, NULL) == VEC_OK);
  CHECK(vec_codec_encode(u, xc, N, d, codes2, sc2, NULL) == VEC_OK);
  size_t cs = vec_codec_code_size(c), ns = vec_codec_scale_count(c);
  size_t bsc = vec_codec_scale_count(u), corr = id != VEC_CODEC_BINARY;
  CHECKF(ns == bsc + corr, "%s d %zu: %zu scales, plain %zu", vec_codec_name(id), d, ns, bsc);
  CHECKF(memcmp(codes, codes2, N * cs) == 0, "%s d %zu: codes differ", vec_codec_name(id), d);
  CHECK(vec_codec_decode(c, codes, sc, N, dec, d, NULL) == VEC_OK);
  CHECK(vec_codec_decode(u, codes, sc2, N, dec2, d, NULL) == VEC_OK);
  /* The module's scales, then the correction c.((x - c) - plain decode) in double. */
  float *t = malloc(N * sizeof(float));
  int sc_ok = 1;
  for (size_t i = 0; i < N; i++) {
    for (size_t j = 0; j < bsc; j++) sc_ok &= sc[i * ns + j] == sc2[i * bsc + j];
    double a = 0.0;
    for (size_t j = 0; j < d; j++)
      a += (double)cen[j] * ((double)xc[i * d + j] - (double)dec2[i * d + j]);
    t[i] = corr ? (float)a : 0.0f;
    if (corr) sc_ok &= sc[i * ns + bsc] == t[i];
  }
  CHECKF(sc_ok, "%s d %zu: scales are not the plain ones and the correction", vec_codec_name(id),
         d);
  /* binary decodes c + s * (+-1): s the mean |x - c| (checked loosely: its sum is in double) */
  float bs = 1.0f;
  if (id == VEC_CODEC_BINARY) {
    double a = 0.0;
    for (size_t i = 0; i < N * d; i++) a += fabs((double)xc[i]);
    bs = (float)(a / (N * d));
    CHECK(fabsf(dec[0] - cen[0] - bs * dec2[0]) < 1e-5f);
    /* the stored scale: binary has no ranges or state, so it sits just before the CRC */
    size_t sz = vec_codec_serialized_size(c);
    uint8_t *buf = malloc(sz);
    CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
    memcpy(&bs, buf + sz - 8, sizeof bs);
    free(buf);
  }
  int dec_ok = 1;
  for (size_t i = 0; i < N * d; i++) {
    float p = bs * dec2[i], want = cen[i % d] + p;
    dec_ok &= fabsf(dec[i] - want) <= 1e-6f * (1.0f + fabsf(want));
  }
  CHECKF(dec_ok, "%s d %zu: decode is not c + plain decode", vec_codec_name(id), d);
  /* Search scores (IP, every row) on every ISA: centred = s * plain(q or q - c) + q.c. */
  int isas[8], ni = vt_isas(isas);
  uint64_t *ids = malloc(NQ * N * sizeof(uint64_t)), *ids2 = malloc(NQ * N * sizeof(uint64_t));
  float *s1 = malloc(NQ * N * sizeof(float)), *s2 = malloc(NQ * N * sizeof(float));
  float *ref = malloc(NQ * N * sizeof(float));
  for (int ii = 0; ii < ni; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    CHECK(vec_search_codes(c, codes, sc, N, NULL, q, NQ, d, N, VEC_METRIC_IP, ids, s1, NULL) ==
          VEC_OK);
    const float *qu = id == VEC_CODEC_BINARY ? qc : q;
    CHECK(vec_search_codes(u, codes, sc2, N, NULL, qu, NQ, d, N, VEC_METRIC_IP, ids2, s2, NULL) ==
          VEC_OK);
    int ok = 1;
    for (size_t j = 0; j < NQ; j++) {
      double a = 0.0, cc = 0.0;
      for (size_t i = 0; i < d; i++) a += (double)q[j * d + i] * cen[i];
      for (size_t i = 0; i < d; i++) cc += (double)cen[i] * cen[i];
      float qdot = (float)a, w = (float)(a / cc);
      /* scatter the plain scores by row so the two orders need not agree */
      for (size_t r = 0; r < N; r++) {
        float p = bs * s2[j * N + r];
        uint64_t row = ids2[j * N + r];
        ref[j * N + row] = corr ? (p + qdot) + w * t[row] : p + qdot;
      }
      for (size_t r = 0; r < N; r++) ok &= s1[j * N + r] == ref[j * N + ids[j * N + r]];
    }
    if (ii == 0)
      memcpy(dec2, s1, NQ * N * sizeof(float)); /* scalar's scores */
    else
      ok &= memcmp(dec2, s1, NQ * N * sizeof(float)) == 0;
    CHECKF(ok, "%s d %zu isa %s: centred scores are not plain + q.c, or differ from scalar",
           vec_codec_name(id), d, vec_isa_name((vec_isa)isas[ii]));
  }
  vec_set_isa(VEC_ISA_AUTO);
  /* Serialization: format 2.2 (binary 2.1), round trip to the same codes, scales and decoding. */
  size_t sz = vec_codec_serialized_size(c);
  uint8_t *buf = malloc(sz);
  CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
  CHECK(buf[4] == 2 && buf[6] == (corr ? 2 : 1));
  vec_codec *c2 = NULL;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK && vec_codec_is_trained(c2));
  if (c2) {
    CHECK(vec_codec_scale_count(c2) == ns);
    CHECK(vec_codec_encode(c2, x, N, d, codes2, sc2, NULL) == VEC_OK);
    CHECK(memcmp(codes, codes2, N * cs) == 0);
    CHECK(ns == 0 || memcmp(sc, sc2, N * ns * sizeof(float)) == 0);
    CHECK(vec_codec_decode(c2, codes, sc, N, dec2, d, NULL) == VEC_OK);
    CHECK(memcmp(dec, dec2, N * d * sizeof(float)) == 0);
  }
  vec_codec_free(c2);
  c2 = NULL;
  /* The centre flags word sits right after center (40 + 32 + 4). A 2.1 codec (written before the
   * correction) reads without it: the plain twin's scales, scores plus q.c only. */
  if (corr) {
    size_t fl = 40 + 32 + 4;
    CHECK(vec_codec_encode(u, xc, N, d, codes2, sc2, NULL) == VEC_OK); /* the plain scales again */
    CHECK(buf[fl] == 1);
    buf[6] = 1, buf[fl] = 0;
    uint32_t crc = vec_crc32c(0, buf, sz - 4);
    memcpy(buf + sz - 4, &crc, 4); /* little-endian hosts */
    CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
    if (c2) {
      CHECK(vec_codec_scale_count(c2) == bsc);
      CHECK(vec_codec_decode(c2, codes, sc2, N, dec2, d, NULL) == VEC_OK);
      CHECK(memcmp(dec, dec2, N * d * sizeof(float)) == 0);
      CHECK(vec_search_codes(c2, codes, sc2, N, NULL, q, NQ, d, N, VEC_METRIC_IP, ids, s1, NULL) ==
            VEC_OK);
      CHECK(vec_search_codes(u, codes, sc2, N, NULL, q, NQ, d, N, VEC_METRIC_IP, ids2, s2, NULL) ==
            VEC_OK);
      double a = 0.0;
      for (size_t i = 0; i < d; i++) a += (double)q[i] * cen[i];
      int ok = 1;
      for (size_t r = 0; r < N; r++) ref[ids2[r]] = s2[r] + (float)a;
      for (size_t r = 0; r < N; r++) ok &= s1[r] == ref[ids[r]];
      CHECKF(ok, "%s d %zu: a 2.1 codec scores with a correction", vec_codec_name(id), d);
    }
    vec_codec_free(c2);
    c2 = NULL;
    /* the correction flag in a 2.1 codec, or an unknown flag, is refused */
    buf[fl] = 1;
    crc = vec_crc32c(0, buf, sz - 4);
    memcpy(buf + sz - 4, &crc, 4);
    CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT && c2 == NULL);
    buf[6] = 2, buf[fl] = 2;
    crc = vec_crc32c(0, buf, sz - 4);
    memcpy(buf + sz - 4, &crc, 4);
    CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT && c2 == NULL);
    buf[fl] = 1;
  }
  /* a 2.0 reader's layout with the centre flag is refused (as is any other version) */
  buf[6] = 0;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT);
  buf[6] = 3;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_VERSION);
  free(buf);
  free(t);
  free(ids);
  free(ids2);
  free(s1);
  free(s2);
  free(ref);
out:
  vec_codec_free(c);
  vec_codec_free(u);
  free(x), free(xc), free(q), free(qc), free(dec), free(dec2), free(codes), free(codes2);
  free(sc), free(sc2);
}

static void centred_is_plain_twin(void) {
  for (size_t a = 0; a < sizeof k_ids / sizeof k_ids[0]; a++)
    for (size_t b = 0; b < sizeof k_d / sizeof k_d[0]; b++) twin(k_ids[a], k_d[b]);
}

/* The codec c as a 2.1 file holds it: the same centre and module, without the correction. */
static vec_codec *without_correction(const vec_codec *c) {
  size_t sz = vec_codec_serialized_size(c), fl = 40 + 32 + 4;
  uint8_t *buf = malloc(sz);
  vec_codec *old = NULL;
  if (buf && vec_codec_serialize(c, buf, sz) == VEC_OK) {
    buf[6] = 1, buf[fl] = 0;
    uint32_t crc = vec_crc32c(0, buf, sz - 4);
    memcpy(buf + sz - 4, &crc, 4); /* little-endian hosts */
    if (vec_codec_deserialize(buf, sz, &old) != VEC_OK) old = NULL;
  }
  free(buf);
  return old;
}

/* The centre correction on every path a search scores by: int4 with groups scores from its codes
 * where a SIMD kernel takes the shape and from decoded rows and float dots where not (scalar), so
 * both must add w t: each score is the uncorrected codec's plus (q . c / |c|^2) t, bit for bit. */
static void correction_on_every_path(void) {
  size_t d = 64, n = 200, nq = 3;
  vec_codec_params p = params_for(VEC_CODEC_INT4, d, 1);
  p.group_size = 32;
  vec_codec *c = NULL, *old = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  if (!c) return;
  uint64_t s = 99;
  float *x = malloc(n * d * sizeof(float)), *q = malloc(nq * d * sizeof(float));
  float *sc = malloc(n * 3 * sizeof(float)), *sc2 = malloc(n * 2 * sizeof(float));
  float *s1 = malloc(nq * n * sizeof(float)), *s2 = malloc(nq * n * sizeof(float));
  float *ref = malloc(n * sizeof(float));
  uint8_t *codes = malloc(n * d);
  uint64_t *ids = malloc(nq * n * sizeof(uint64_t)), *ids2 = malloc(nq * n * sizeof(uint64_t));
  make_rows(x, n, d, &s);
  make_rows(q, nq, d, &s);
  CHECK(vec_codec_train(c, x, n, d) == VEC_OK);
  CHECK(vec_codec_scale_count(c) == 3); /* two group scales and the correction */
  CHECK(vec_codec_encode(c, x, n, d, codes, sc, NULL) == VEC_OK);
  old = without_correction(c);
  CHECK(old != NULL);
  if (!old) goto out;
  CHECK(vec_codec_scale_count(old) == 2);
  for (size_t i = 0; i < n; i++) sc2[2 * i] = sc[3 * i], sc2[2 * i + 1] = sc[3 * i + 1];
  float cen[64];
  size_t sz = vec_codec_serialized_size(c);
  uint8_t *buf = malloc(sz);
  CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
  memcpy(cen, buf + sz - 4 - 4 - 4 * d, 4 * d); /* the centre, cscale and the CRC end it */
  free(buf);
  int isas[8], ni = vt_isas(isas);
  for (int ii = 0; ii < ni; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    CHECK(vec_search_codes(c, codes, sc, n, NULL, q, nq, d, n, VEC_METRIC_IP, ids, s1, NULL) ==
          VEC_OK);
    CHECK(vec_search_codes(old, codes, sc2, n, NULL, q, nq, d, n, VEC_METRIC_IP, ids2, s2, NULL) ==
          VEC_OK);
    int ok = 1;
    for (size_t j = 0; j < nq; j++) {
      double qc = 0.0, cc = 0.0;
      for (size_t i = 0; i < d; i++) qc += (double)q[j * d + i] * cen[i];
      for (size_t i = 0; i < d; i++) cc += (double)cen[i] * cen[i];
      float w = (float)(qc / cc);
      for (size_t r = 0; r < n; r++) {
        size_t row = (size_t)ids2[j * n + r];
        ref[row] = s2[j * n + r] + w * sc[3 * row + 2];
      }
      for (size_t r = 0; r < n; r++) ok &= s1[j * n + r] == ref[ids[j * n + r]];
    }
    CHECKF(ok, "isa %s: scores are not the uncorrected ones plus w t",
           vec_isa_name((vec_isa)isas[ii]));
  }
  vec_set_isa(VEC_ISA_AUTO);
out:
  free(x), free(q), free(sc), free(sc2), free(s1), free(s2), free(ref), free(codes), free(ids);
  free(ids2);
  vec_codec_free(old);
  vec_codec_free(c);
}

/* Bad input to a centred codec: NaN and Inf name the row, a finite value too far from the centre
 * is a range error, the float codecs refuse center, and the rows before a bad one are encoded. */
static void centred_errors(void) {
  size_t d = 8;
  vec_codec_params p = params_for(VEC_CODEC_INT8, d, 1);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  float x[4 * 8];
  uint64_t s = 5;
  make_rows(x, 4, d, &s);
  CHECK(vec_codec_train(c, x, 1, d) == VEC_OK); /* one row is a centre */
  uint8_t codes[4 * 12];
  float sc[4 * 2]; /* the int8 scale and the centre correction */
  x[2 * 8 + 3] = NAN;
  CHECK(vec_codec_encode(c, x, 4, d, codes, sc, NULL) == VEC_E_NONFINITE &&
        vec_last_error_row() == 2);
  x[2 * 8 + 3] = -3.3e38f;
  x[1 * 8 + 3] = 1.0f;
  vec_codec_free(c);
  for (size_t i = 0; i < 8; i++) x[i] = 3.3e38f;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(vec_codec_train(c, x, 1, d) == VEC_OK);
  CHECK(vec_codec_encode(c, x, 4, d, codes, sc, NULL) == VEC_E_RANGE && vec_last_error_row() == 2);
  vec_codec_free(c);
  vec_codec_params h = params_for(VEC_CODEC_BF16, d, 1);
  CHECK(vec_codec_create(&h, &c) == VEC_E_INVALID_ARG && c == NULL);
}

/* uint4-cal: codes as a by-hand reference (levels 0..15, nearest, clamped, dimension 2i in the low
 * nibble), decoding lo + u * step, untrained refusal, and no truncated rounding. */
static void uint4_reference(void) {
  size_t d = 5;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_UINT4_CAL, d);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK && vec_codec_code_size(c) == 3);
  float lo[5] = {0, -1, 0, 0, 2}, hi[5] = {15, 1, 30, 0, 2};
  float x[5] = {7.5f, 0.2f, 31.0f, 5.0f, -1.0f}, dec[5];
  uint8_t codes[3];
  CHECK(vec_codec_encode(c, x, 1, d, codes, NULL, NULL) == VEC_E_NOT_TRAINED);
  CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_OK);
  CHECK(vec_codec_encode(c, x, 1, d, codes, NULL, NULL) == VEC_OK);
  /* 7.5 -> 8 (half to even), 0.2 on [-1, 1] step 2/15 -> 9, 31 -> 15 (clamped), zero range -> 0 */
  CHECK(codes[0] == (8 | 9 << 4) && codes[1] == 15 && codes[2] == 0);
  CHECK(vec_codec_decode(c, codes, NULL, 1, dec, d, NULL) == VEC_OK);
  CHECK(dec[0] == 8.0f && dec[2] == 30.0f && dec[3] == 0.0f && dec[4] == 2.0f);
  vec_codec_free(c);
  p.rounding = VEC_ROUND_TRUNCATE;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG && c == NULL);
}

/* uint6-cal: 64 levels packed LSB first, 4 codes in 3 bytes; decoding lo + u * step. */
static void uint6_reference(void) {
  size_t d = 5;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_UINT6_CAL, d);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK && vec_codec_code_size(c) == 4);
  float lo[5] = {0, 0, 0, 0, 0}, hi[5] = {63, 63, 63, 63, 63};
  float x[5] = {1, 2, 62.5f, 63, 40}, dec[5];
  uint8_t codes[4];
  CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_OK);
  CHECK(vec_codec_encode(c, x, 1, d, codes, NULL, NULL) == VEC_OK);
  /* levels 1, 2, 62 (half to even), 63, 40: bits 1 | 2 << 6 | 62 << 12 | 63 << 18 | 40 << 24 */
  uint32_t w = 1u | 2u << 6 | 62u << 12 | 63u << 18 | 40u << 24;
  CHECK(codes[0] == (w & 255) && codes[1] == ((w >> 8) & 255) && codes[2] == ((w >> 16) & 255) &&
        codes[3] == (w >> 24));
  CHECK(vec_codec_decode(c, codes, NULL, 1, dec, d, NULL) == VEC_OK);
  CHECK(dec[0] == 1.0f && dec[2] == 62.0f && dec[3] == 63.0f && dec[4] == 40.0f);
  vec_codec_free(c);
}

const vt_test centre_tests[] = {
    {"uint6_reference", uint6_reference}, {"centred_is_plain_twin", centred_is_plain_twin},
    {"centred_errors", centred_errors},   {"correction_on_every_path", correction_on_every_path},
    {"uint4_reference", uint4_reference},
};
const size_t centre_count = sizeof centre_tests / sizeof centre_tests[0];
