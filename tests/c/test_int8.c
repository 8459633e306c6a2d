/* test_int8.c: the int8 codec against an independent reference, and every ISA against scalar. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

/* Independent reference of the documented math (float compares, libm rounding in the default
 * mode), sharing no code with the library. */
static void ref_encode(const float *x, size_t d, int8_t *q, float *s) {
  float m = 0.0f;
  for (size_t j = 0; j < d; j++) m = fabsf(x[j]) > m ? fabsf(x[j]) : m;
  if (m == 0.0f) {
    memset(q, 0, d);
    *s = 0.0f;
    return;
  }
  float up = m < 0x1p-96f ? 0x1p96f : 1.0f;
  float inv = 127.0f / (m * up);
  for (size_t j = 0; j < d; j++) {
    float r = nearbyintf((x[j] * up) * inv);
    q[j] = (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
  }
  *s = m / 127.0f;
  if (isinf(*s * 127.0f)) *s = nextafterf(*s, 0.0f); /* documented: decode stays finite */
}

static void fill(float *x, size_t count, uint64_t *seed, int kind) {
  for (size_t i = 0; i < count; i++) {
    switch (kind) {
    case 0: x[i] = vt_normal(seed); break;
    case 1: x[i] = vt_uniform(seed) * 1e6f; break;   /* large */
    case 2: x[i] = vt_uniform(seed) * 1e-38f; break; /* subnormal-ish: the tiny path */
    default: x[i] = (float)((int)(vt_next(seed) % 511) - 255) * 0.5f; /* half-integers: ties */
    }
  }
}

/* C11 aligned_alloc wants the size to be a multiple of the alignment. */
static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

static int same_bits(const void *a, const void *b, size_t bytes) {
  return memcmp(a, b, bytes) == 0;
}

static void matches_reference(void) {
  uint64_t seed = 1;
  enum { N = 7 };
  size_t dims[] = {1, 2, 3, 7, 8, 31, 32, 33, 100, 384, 768, 1000, 1536};
  for (int kind = 0; kind < 4; kind++) {
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
      size_t d = dims[di];
      float *x = malloc(N * d * sizeof(float)), scales[N], rs;
      int8_t *q = malloc(N * d), *rq = malloc(d);
      fill(x, N * d, &seed, kind);
      CHECK(vec_set_isa(VEC_ISA_SCALAR) == VEC_OK);
      CHECK(vec_int8_encode(x, N, d, d, q, scales, NULL) == VEC_OK);
      for (size_t i = 0; i < N; i++) {
        ref_encode(x + i * d, d, rq, &rs);
        CHECKF(same_bits(q + i * d, rq, d) && same_bits(&rs, &scales[i], 4),
               "kind %d d %zu row %zu", kind, d, i);
      }
      free(x), free(q), free(rq);
    }
  }
}

/* Half-integers with max |x| = 127 make inv exactly 1, so x*inv are exact ties. */
static void ties_round_to_even(void) {
  float x[8] = {127.0f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.5f};
  int8_t want[8] = {127, 2, 4, -2, -4, 0, 0, 2};
  int isas[4], ni = vt_isas(isas);
  for (int k = 0; k < ni; k++) {
    int8_t q[8];
    float s;
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_int8_encode(x, 1, 8, 8, q, &s, NULL) == VEC_OK);
    CHECKF(same_bits(q, want, 8), "isa %s", vec_isa_name((vec_isa)isas[k]));
    CHECK(s == 1.0f);
  }
}

static void special_rows(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t d = 70;
  float x[4 * 70], out[4 * 70], s[4];
  int8_t q[4 * 70];
  for (size_t j = 0; j < d; j++) {
    x[j] = 0.0f;                                  /* zero row */
    x[d + j] = (j & 1) ? -0.0f : 0.0f;            /* signed zeros */
    x[2 * d + j] = (j == 5) ? FLT_MAX : 1.0f;     /* extreme range */
    x[3 * d + j] = (j == 69) ? -0x1p-149f : 0.0f; /* one denormal, in the tail */
  }
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_int8_encode(x, 4, d, d, q, s, NULL) == VEC_OK);
    CHECK(s[0] == 0.0f && s[1] == 0.0f);
    for (size_t j = 0; j < 2 * d; j++) CHECK(q[j] == 0);
    CHECK(q[2 * d + 5] == 127 && q[2 * d + 4] == 0);
    CHECK(isfinite(s[2] * 127.0f) && s[2] >= FLT_MAX / 127.0f * (1.0f - 1e-6f));
    CHECK(q[3 * d + 69] == -127 && q[3 * d] == 0);
    CHECK(vec_int8_decode(q, s, 4, d, out, d, NULL) == VEC_OK);
    for (size_t j = 0; j < 2 * d; j++) CHECK(out[j] == 0.0f);
    CHECK(isfinite(out[2 * d + 5]) && fabsf(out[2 * d + 5] - FLT_MAX) <= FLT_MAX * 1e-6f);
    CHECK(out[3 * d + 69] <= 0.0f); /* the denormal scale loses precision, never the sign */
  }
}

/* Every ISA against scalar, bit for bit: d = 1..4099, unaligned input and output, both store
 * paths (regular and streaming), strided rows. */
static void isas_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t N = 3, DMAX = 4099;
  float *xb = alloc64((N * (DMAX + 5) + 64) * sizeof(float));
  float *ob = alloc64((N * (DMAX + 5) + 64) * sizeof(float));
  float *oref = malloc(N * (DMAX + 5) * sizeof(float));
  int8_t *qb = alloc64(N * DMAX + 128), *qref = malloc(N * DMAX);
  float s[3], sref[3];
  uint64_t seed = 42;
  for (size_t d = 1; d <= DMAX; d++) {
    size_t off = d % 4, ldx = d + (d % 3 == 0 ? 5 : 0); /* unaligned start, sometimes strided */
    float *x = xb + off;
    fill(x, N * ldx, &seed, (int)(d % 4));
    if (d % 5 == 0) memset(x + ldx, 0, d * sizeof(float)); /* a zero row now and then */
    vec_int8_encode_scalar(x, N, d, ldx, qref, d, sref, 0);
    vec_int8_decode_scalar(qref, N, d, d, sref, oref, d, 0);
    for (int k = 1; k < ni; k++) {
      const vec_kernels *kt = NULL;
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      kt = vec_kernels_get();
      for (unsigned flags = 0; flags <= VEC_KF_STREAM; flags++) {
        /* streaming needs alignment: flags=1 uses aligned outputs, flags=0 misaligns them */
        int8_t *q = qb + (flags ? 0 : 1);
        float *o = ob + (flags ? 0 : 1);
        CHECK(kt->int8.encode(x, N, d, ldx, q, d, s, flags) == N);
        CHECKF(same_bits(q, qref, N * d) && same_bits(s, sref, sizeof s),
               "encode %s d=%zu flags=%u", vec_isa_name(kt->isa), d, flags);
        kt->int8.decode(q, N, d, d, s, o, d, flags);
        CHECKF(same_bits(o, oref, N * d * sizeof(float)), "decode %s d=%zu flags=%u",
               vec_isa_name(kt->isa), d, flags);
      }
    }
  }
  free(xb), free(ob), free(oref), free(qb), free(qref);
}

/* Inputs and outputs that end at an inaccessible page: a tail that reads or writes one element
 * too far crashes here instead of passing silently. */
static void guard_pages(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  for (size_t d = 1; d <= 200; d++) {
    size_t n = 2;
    void *hx, *hq, *hs, *ho;
    size_t zx, zq, zs, zo;
    float *x = vt_guarded_alloc(n * d * sizeof(float), &hx, &zx);
    int8_t *q = vt_guarded_alloc(n * d, &hq, &zq);
    float *s = vt_guarded_alloc(n * sizeof(float), &hs, &zs);
    float *o = vt_guarded_alloc(n * d * sizeof(float), &ho, &zo);
    CHECK(x && q && s && o);
    fill(x, n * d, &seed, 0);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      CHECK(vec_int8_encode(x, n, d, d, q, s, NULL) == VEC_OK);
      CHECK(vec_int8_decode(q, s, n, d, o, d, NULL) == VEC_OK);
    }
    vt_guarded_free(hx, zx), vt_guarded_free(hq, zq), vt_guarded_free(hs, zs),
        vt_guarded_free(ho, zo);
  }
}

static void error_bound(void) {
  uint64_t seed = 3;
  const size_t n = 50, d = 768;
  float *x = malloc(n * d * 4), *o = malloc(n * d * 4), s[50];
  int8_t *q = malloc(n * d);
  fill(x, n * d, &seed, 0);
  CHECK(vec_int8_encode(x, n, d, d, q, s, NULL) == VEC_OK);
  CHECK(vec_int8_decode(q, s, n, d, o, d, NULL) == VEC_OK);
  for (size_t i = 0; i < n; i++) {
    double dot = 0, nx = 0, no = 0;
    for (size_t j = 0; j < d; j++) {
      float e = fabsf(x[i * d + j] - o[i * d + j]);
      CHECKF(e <= s[i] * 0.5f * (1.0f + 1e-5f), "row %zu col %zu err %g scale %g", i, j, e, s[i]);
      dot += (double)x[i * d + j] * o[i * d + j];
      nx += (double)x[i * d + j] * x[i * d + j];
      no += (double)o[i * d + j] * o[i * d + j];
    }
    CHECK(dot / sqrt(nx * no) > 0.9999);
  }
  free(x), free(o), free(q);
}

static void nonfinite_rows_reported(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t n = 40, d = 77;
  float *x = malloc(n * d * 4), s[40];
  int8_t *q = malloc(n * d);
  uint64_t seed = 9;
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  const size_t cols[3] = {0, 38, 76}; /* head, middle, last element (a SIMD tail) */
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    for (int b = 0; b < 3; b++) {
      for (int c = 0; c < 3; c++) {
        fill(x, n * d, &seed, 0);
        x[17 * d + cols[c]] = bad[b];
        x[30 * d + 3] = NAN; /* a later bad row must not be the one reported */
        CHECK(vec_int8_encode(x, n, d, d, q, s, NULL) == VEC_E_NONFINITE);
        CHECK(vec_last_error_row() == 17);
        CHECKF(strstr(vec_last_error_message(), "row 17") != NULL, "%s", vec_last_error_message());
      }
    }
  }
  /* a success clears the detail */
  fill(x, n * d, &seed, 0);
  CHECK(vec_int8_encode(x, n, d, d, q, s, NULL) == VEC_OK);
  CHECK(vec_last_error_row() == -1 && vec_last_error_message()[0] == '\0');
  free(x), free(q);
}

static void invalid_arguments(void) {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, s[2] = {1, 1}, o[8];
  int8_t q[8] = {0};
  CHECK(vec_int8_encode(x, 1, 0, 0, q, s, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_encode(x, 2, 4, 3, q, s, NULL) == VEC_E_INVALID_ARG); /* ldx < d */
  CHECK(strstr(vec_last_error_message(), "ldx") != NULL);
  CHECK(vec_int8_encode(NULL, 1, 4, 4, q, s, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_encode(x, 1, 4, 4, NULL, s, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_encode(x, 1, 4, 4, q, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_encode(x, SIZE_MAX / 2, 4, 4, q, s, NULL) == VEC_E_OVERFLOW);
  CHECK(vec_int8_encode(NULL, 0, 4, 4, NULL, NULL, NULL) == VEC_OK); /* n = 0: nothing to do */
  vec_batch_opts bad = VEC_BATCH_OPTS_INIT;
  bad.struct_size = 4;
  CHECK(vec_int8_encode(x, 1, 4, 4, q, s, &bad) == VEC_E_INVALID_ARG);
  bad.struct_size = sizeof bad;
  bad.threads = -1;
  CHECK(vec_int8_encode(x, 1, 4, 4, q, s, &bad) == VEC_E_INVALID_ARG);
  /* decode: scales from outside are checked before anything is written */
  float bad_scales[2] = {1.0f, NAN};
  o[4] = 12345.0f;
  CHECK(vec_int8_decode(q, bad_scales, 2, 4, o, 4, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_last_error_row() == 1 && o[4] == 12345.0f);
  bad_scales[1] = -1.0f;
  CHECK(vec_int8_decode(q, bad_scales, 2, 4, o, 4, NULL) == VEC_E_INVALID_ARG);
  bad_scales[1] = INFINITY;
  CHECK(vec_int8_decode(q, bad_scales, 2, 4, o, 4, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_decode(q, s, 2, 4, o, 3, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_int8_code_size(768) == 768);
  CHECK(strcmp(vec_strerror(VEC_E_NONFINITE), vec_strerror(VEC_E_INVALID_ARG)) != 0);
}

const vt_test int8_tests[] = {
    {"matches_reference", matches_reference},
    {"ties_round_to_even", ties_round_to_even},
    {"special_rows", special_rows},
    {"isas_bit_identical", isas_bit_identical},
    {"guard_pages", guard_pages},
    {"error_bound", error_bound},
    {"nonfinite_rows_reported", nonfinite_rows_reported},
    {"invalid_arguments", invalid_arguments},
};
const size_t int8_count = sizeof int8_tests / sizeof int8_tests[0];
