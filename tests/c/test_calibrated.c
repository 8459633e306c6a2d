/* test_calibrated.c: the calibrated codecs (uint8-cal, int8-cal) against sentence-transformers'
 * formula rewritten here in C float32, an independent round-to-nearest reference, quantile
 * calibration, error paths, serialization, and every ISA against scalar bit for bit. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/kernels/calib_unpack_kernels.h"
#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

/* ---------------------------------------------------------------------------------------------
 * Independent references (no library code)
 * ------------------------------------------------------------------------------------------- */

/* sentence-transformers >= 6, quantize_embeddings(precision="uint8"/"int8", ranges=...):
 *   starts = ranges[0]; steps = (ranges[1] - ranges[0]) / 255
 *   q = clip(floor((x - starts) / steps), 0, 255); uint8: q; int8: q - 128
 * all float32. A zero step (sentence-transformers substitutes 1) is documented here as the lowest
 * code. */
static uint8_t st_uint8(float x, float lo, float hi) {
  float step = (hi - lo) / 255.0f;
  if (step == 0.0f) return 0;
  float v = (x - lo) / step;
  if (v > -1.0f && v < 256.0f) return (uint8_t)v; /* C's cast truncates, like astype */
  return v < 0.0f ? 0 : 255;
}
static int8_t st_int8(float x, float lo, float hi) { return (int8_t)(st_uint8(x, lo, hi) - 128); }

/* Round to nearest (libm, default mode: ties to even), then clip. */
static int ref_level_nearest(float x, float lo, float hi) {
  float step = (hi - lo) / 255.0f;
  if (step == 0.0f) return 0;
  float r = nearbyintf((x - lo) / step);
  return r < 0.0f ? 0 : (r > 255.0f ? 255 : (int)r);
}

/* Stored byte for codec `id` and rounding `rnd`. */
static uint8_t ref_code(float x, float lo, float hi, vec_codec_id id, int rnd) {
  if (rnd == VEC_ROUND_TRUNCATE)
    return id == VEC_CODEC_UINT8_CAL ? st_uint8(x, lo, hi) : (uint8_t)st_int8(x, lo, hi);
  int l = ref_level_nearest(x, lo, hi);
  return id == VEC_CODEC_UINT8_CAL ? (uint8_t)l : (uint8_t)(int8_t)(l - 128);
}

/* Documented reconstruction: lo + t * step; t = the level for rounded codes, the middle of the
 * truncation interval for truncated ones. */
static float ref_decode(uint8_t b, float lo, float hi, vec_codec_id id, int rnd) {
  float step = (hi - lo) / 255.0f;
  float t;
  if (id == VEC_CODEC_UINT8_CAL) {
    t = (float)b + (rnd == VEC_ROUND_TRUNCATE ? 0.5f : 0.0f);
  } else {
    int c = (int8_t)b;
    t = (float)(c + 128) + (rnd == VEC_ROUND_TRUNCATE ? 0.5f : 0.0f);
  }
  float p = t * step;
  return lo + p;
}

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */
static const vec_codec_id IDS[2] = {VEC_CODEC_UINT8_CAL, VEC_CODEC_INT8_CAL};
static const int RNDS[2] = {VEC_ROUND_NEAREST, VEC_ROUND_TRUNCATE};

static vec_codec *make(vec_codec_id id, size_t d, int rnd, float qlo, float qhi) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  p.rounding = rnd;
  p.calib_low_q = qlo;
  p.calib_high_q = qhi;
  vec_codec *c = NULL;
  return vec_codec_create(&p, &c) == VEC_OK ? c : NULL;
}

static unsigned mode_of(vec_codec_id id, int rnd) {
  return (id == VEC_CODEC_INT8_CAL ? VEC_CAL_INT8 : 0u) |
         (rnd == VEC_ROUND_TRUNCATE ? VEC_CAL_TRUNC : 0u);
}

/* Embedding-like data with a per-dimension spread, times `widen` (> 1 puts values outside ranges
 * learned at widen = 1). */
static void fill_normal(float *x, size_t n, size_t d, size_t ldx, uint64_t *seed, float widen) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++)
      x[i * ldx + j] = vt_normal(seed) * (0.05f + 0.01f * (float)(j % 13)) * widen;
}

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

/* TRUNCATE reproduces sentence-transformers' codes bit for bit on every ISA, with ranges learned
 * (min/max) from other data, so that the encoded data falls outside them now and then. */
static void st_truncate_bit_exact(void) {
  const size_t dims[] = {1, 7, 16, 33, 100, 384, 768, 1000};
  const size_t NCAL = 300, N = 64;
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 5;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di];
    float *cal = malloc(NCAL * d * 4), *x = malloc(N * d * 4), *lo = malloc(d * 4),
          *hi = malloc(d * 4);
    uint8_t *q = malloc(N * d);
    fill_normal(cal, NCAL, d, d, &seed, 1.0f);
    fill_normal(x, N, d, d, &seed, 1.3f);
    for (int k = 0; k < 2; k++) {
      vec_codec *c = make(IDS[k], d, VEC_ROUND_TRUNCATE, 0.0f, 1.0f);
      CHECK(c && vec_codec_train(c, cal, NCAL, d) == VEC_OK);
      CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_OK);
      size_t outside = 0;
      for (size_t i = 0; i < N * d; i++) outside += x[i] < lo[i % d] || x[i] > hi[i % d];
      CHECK(outside > 0);
      for (int s = 0; s < ni; s++) {
        CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, N, d, q, NULL, NULL) == VEC_OK);
        for (size_t i = 0; i < N * d; i++) {
          uint8_t want = IDS[k] == VEC_CODEC_UINT8_CAL
                             ? st_uint8(x[i], lo[i % d], hi[i % d])
                             : (uint8_t)st_int8(x[i], lo[i % d], hi[i % d]);
          CHECKF(q[i] == want, "%s %s d=%zu elem %zu: %d, st %d", vec_codec_name(IDS[k]),
                 vec_isa_name((vec_isa)isas[s]), d, i, q[i], want);
        }
      }
      vec_codec_free(c);
    }
    free(cal), free(x), free(lo), free(hi), free(q);
  }
}

/* Both roundings against the references, codes and decoded floats, on every ISA. */
static void matches_reference(void) {
  const size_t dims[] = {1, 5, 17, 64, 129, 384, 1536};
  const size_t NCAL = 100, N = 9;
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 17;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di];
    float *cal = malloc(NCAL * d * 4), *x = malloc(N * d * 4), *o = malloc(N * d * 4);
    float *lo = malloc(d * 4), *hi = malloc(d * 4);
    uint8_t *q = malloc(N * d);
    fill_normal(cal, NCAL, d, d, &seed, 1.0f);
    fill_normal(x, N, d, d, &seed, 1.2f);
    for (int k = 0; k < 2; k++) {
      for (int r = 0; r < 2; r++) {
        vec_codec *c = make(IDS[k], d, RNDS[r], 0.01f, 0.99f);
        CHECK(c && vec_codec_train(c, cal, NCAL, d) == VEC_OK);
        CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_OK);
        for (int s = 0; s < ni; s++) {
          CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
          CHECK(vec_codec_encode(c, x, N, d, q, NULL, NULL) == VEC_OK);
          CHECK(vec_codec_decode(c, q, NULL, N, o, d, NULL) == VEC_OK);
          for (size_t i = 0; i < N * d; i++) {
            size_t j = i % d;
            uint8_t want = ref_code(x[i], lo[j], hi[j], IDS[k], RNDS[r]);
            float dec = ref_decode(want, lo[j], hi[j], IDS[k], RNDS[r]);
            CHECKF(q[i] == want && memcmp(&o[i], &dec, 4) == 0,
                   "%s rnd %d %s d=%zu elem %zu: code %d want %d, %a want %a",
                   vec_codec_name(IDS[k]), RNDS[r], vec_isa_name((vec_isa)isas[s]), d, i, q[i],
                   want, (double)o[i], (double)dec);
          }
        }
        vec_codec_free(c);
      }
    }
    free(cal), free(x), free(o), free(lo), free(hi), free(q);
  }
}

/* Hand-computed codes: step exactly 1 makes v exact, so ties, NumPy's float32 "v - 128" and
 * clipping are checked against literal numbers. The row is 32 wide so SIMD paths see it too. */
static void hand_computed_codes(void) {
  enum { D = 32 };
  float lo[D], hi[D], x[D];
  const float xs[] = {2.5f, 3.5f, 0.5f, 1.5f, 127.5f, 128.5f, 254.5f, 1e-6f, -5.0f, 300.0f, 255.0f};
  /* NEAREST levels, TRUNCATE uint8 (floor, clipped), TRUNCATE int8 = the uint8 code - 128. */
  const int near[] = {2, 4, 0, 2, 128, 128, 254, 0, 0, 255, 255};
  const int tr_u8[] = {2, 3, 0, 1, 127, 128, 254, 0, 0, 255, 255};
  const int tr_i8[] = {-126, -125, -128, -127, -1, 0, 126, -128, -128, 127, 127};
  const size_t NX = sizeof xs / sizeof xs[0];
  for (size_t j = 0; j < D; j++) lo[j] = 0.0f, hi[j] = 255.0f, x[j] = xs[j % NX];
  int isas[4], ni = vt_isas(isas);
  for (int k = 0; k < 2; k++) {
    for (int r = 0; r < 2; r++) {
      vec_codec *c = make(IDS[k], D, RNDS[r], 0.0f, 1.0f);
      CHECK(c && vec_codec_set_ranges(c, lo, hi) == VEC_OK);
      for (int s = 0; s < ni; s++) {
        uint8_t q[D];
        CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
        for (size_t j = 0; j < D; j++) {
          size_t e = j % NX;
          int want;
          if (RNDS[r] == VEC_ROUND_NEAREST)
            want = IDS[k] == VEC_CODEC_UINT8_CAL ? near[e] : near[e] - 128;
          else
            want = IDS[k] == VEC_CODEC_UINT8_CAL ? tr_u8[e] : tr_i8[e];
          int got = IDS[k] == VEC_CODEC_UINT8_CAL ? q[j] : (int8_t)q[j];
          CHECKF(got == want, "%s rnd %d %s x=%g: %d want %d", vec_codec_name(IDS[k]), RNDS[r],
                 vec_isa_name((vec_isa)isas[s]), (double)x[j], got, want);
        }
      }
      vec_codec_free(c);
    }
  }
}

/* Values far outside the range (x - lo overflowing to +-Inf included), signed zeros and
 * subnormal ranges clip or encode exactly; nothing wraps. */
static void clipping_and_special_values(void) {
  enum { D = 40 };
  float lo[D], hi[D], x[D];
  for (size_t j = 0; j < D; j++) {
    switch (j % 5) {
    case 0: lo[j] = 1e38f, hi[j] = 2e38f, x[j] = (j & 1) ? FLT_MAX : -FLT_MAX; break;
    case 1: lo[j] = -2e38f, hi[j] = -1e38f, x[j] = (j & 1) ? FLT_MAX : -FLT_MAX; break;
    case 2: lo[j] = 0.0f, hi[j] = 255 * 0x1p-149f, x[j] = (float)(j % 7) * 0x1p-149f; break;
    case 3: lo[j] = -127.5f, hi[j] = 127.5f, x[j] = (j & 1) ? -0.0f : 0.0f; break; /* step 1 */
    default: lo[j] = -1.0f, hi[j] = 1.0f, x[j] = (j & 1) ? 1e30f : -1e30f;
    }
  }
  int isas[4], ni = vt_isas(isas);
  for (int k = 0; k < 2; k++) {
    for (int r = 0; r < 2; r++) {
      vec_codec *c = make(IDS[k], D, RNDS[r], 0.0f, 1.0f);
      CHECK(c && vec_codec_set_ranges(c, lo, hi) == VEC_OK);
      for (int s = 0; s < ni; s++) {
        uint8_t q[D];
        CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
        for (size_t j = 0; j < D; j++) {
          int level;
          if (j % 5 == 2)
            level = (int)(j % 7); /* step 2^-149: v is exactly j % 7 */
          else if (j % 5 == 3)
            level = RNDS[r] == VEC_ROUND_NEAREST ? 128 : 127; /* v = 127.5 */
          else
            level = (j & 1) ? 255 : 0;
          int want = IDS[k] == VEC_CODEC_UINT8_CAL ? level : level - 128;
          int got = IDS[k] == VEC_CODEC_UINT8_CAL ? q[j] : (int8_t)q[j];
          CHECKF(got == want, "%s rnd %d %s j=%zu: %d want %d", vec_codec_name(IDS[k]), RNDS[r],
                 vec_isa_name((vec_isa)isas[s]), j, got, want);
          CHECK(got == (IDS[k] == VEC_CODEC_UINT8_CAL
                            ? ref_code(x[j], lo[j], hi[j], IDS[k], RNDS[r])
                            : (int8_t)ref_code(x[j], lo[j], hi[j], IDS[k], RNDS[r])));
        }
      }
      vec_codec_free(c);
    }
  }
}

/* NumPy's default quantile ("linear"): position q * (n - 1), interpolated between neighbours. */
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : (x > y);
}
static float ref_quantile(const float *sorted, size_t n, double q) {
  double pos = q * (double)(n - 1), fl = floor(pos);
  size_t i = (size_t)fl;
  if (i + 1 >= n) return sorted[n - 1];
  double g = pos - fl;
  return (float)((1.0 - g) * sorted[i] + g * sorted[i + 1]);
}

static void quantile_calibration(void) {
  const size_t n = 10000, d = 24;
  float *x = malloc(n * d * 4), *col = malloc(n * 4), lo[24], hi[24], lo2[24], hi2[24];
  uint64_t seed = 99;
  fill_normal(x, n, d, d, &seed, 1.0f);
  vec_codec *c = make(VEC_CODEC_UINT8_CAL, d, VEC_ROUND_NEAREST, 0.001f, 0.999f);
  vec_codec *m = make(VEC_CODEC_INT8_CAL, d, VEC_ROUND_NEAREST, 0.0f, 1.0f);
  CHECK(c && m);
  CHECK(vec_codec_train(c, x, n, d) == VEC_OK && vec_codec_get_ranges(c, lo, hi) == VEC_OK);
  CHECK(vec_codec_train(m, x, n, d) == VEC_OK && vec_codec_get_ranges(m, lo2, hi2) == VEC_OK);
  for (size_t j = 0; j < d; j++) {
    for (size_t i = 0; i < n; i++) col[i] = x[i * d + j];
    qsort(col, n, sizeof(float), cmpf);
    /* The parameters are float32, so q is 0.999f = 0.99900001287..., not NumPy's double 0.999:
     * in the sparse tails that moves the interpolated value by tens of ulps. The reference takes
     * the q the codec was given; the rest is double vs float rounding (an ulp at most). */
    float rl = ref_quantile(col, n, (double)0.001f), rh = ref_quantile(col, n, (double)0.999f);
    CHECKF(fabsf(lo[j] - rl) <= 2e-7f * fabsf(rl) && fabsf(hi[j] - rh) <= 2e-7f * fabsf(rh),
           "dim %zu: [%a, %a] want [%a, %a]", j, (double)lo[j], (double)hi[j], (double)rl,
           (double)rh);
    CHECK(lo[j] > col[0] && lo[j] < col[20] && hi[j] < col[n - 1] && hi[j] > col[n - 21]);
    CHECK(lo2[j] == col[0] && hi2[j] == col[n - 1]); /* quantiles 0 and 1 are the min and max */
  }
  vec_codec_free(c), vec_codec_free(m);
  free(x), free(col);
}

static void training_and_range_errors(void) {
  enum { D = 8 };
  float x[4 * D], lo[D], hi[D], o[D];
  uint8_t q[4 * D];
  uint64_t seed = 4;
  fill_normal(x, 4, D, D, &seed, 1.0f);
  for (int k = 0; k < 2; k++) {
    vec_codec *c = make(IDS[k], D, VEC_ROUND_NEAREST, 0.0f, 1.0f);
    CHECK(c && vec_codec_needs_training(c) && !vec_codec_is_trained(c));
    CHECK(vec_codec_code_size(c) == D && vec_codec_scale_count(c) == 0);
    CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_E_NOT_TRAINED);
    CHECK(vec_codec_decode(c, q, NULL, 1, o, D, NULL) == VEC_E_NOT_TRAINED);
    CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_E_NOT_TRAINED);
    CHECK(vec_codec_train(c, x, 1, D) == VEC_E_INVALID_ARG); /* one vector: no spread */
    CHECK(vec_codec_train(c, x, 0, D) == VEC_E_INVALID_ARG);
    CHECK(vec_codec_train(c, x, 4, D - 1) == VEC_E_INVALID_ARG);
    x[2 * D + 5] = NAN;
    CHECK(vec_codec_train(c, x, 4, D) == VEC_E_NONFINITE && vec_last_error_row() == 2);
    x[2 * D + 5] = -INFINITY;
    CHECK(vec_codec_train(c, x, 4, D) == VEC_E_NONFINITE && vec_last_error_row() == 2);
    x[2 * D + 5] = 0.25f;
    CHECK(!vec_codec_is_trained(c));
    /* ranges: reversed, NaN, Inf, too wide for float32 */
    for (size_t j = 0; j < D; j++) lo[j] = -1.0f, hi[j] = 1.0f;
    lo[3] = 2.0f;
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_INVALID_ARG);
    lo[3] = NAN;
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_INVALID_ARG);
    lo[3] = -1.0f, hi[7] = INFINITY;
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_INVALID_ARG);
    hi[7] = FLT_MAX, lo[7] = -FLT_MAX;
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_RANGE);
    CHECK(vec_codec_set_ranges(c, NULL, hi) == VEC_E_INVALID_ARG);
    CHECK(!vec_codec_is_trained(c));
    lo[7] = -1.0f, hi[7] = 1.0f;
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_OK && vec_codec_is_trained(c));
    /* n = 0 does nothing (NULL buffers allowed); n = 1 works */
    CHECK(vec_codec_encode(c, NULL, 0, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, NULL, NULL, 0, NULL, D, NULL) == VEC_OK);
    CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, q, NULL, 1, o, D - 1, NULL) == VEC_E_INVALID_ARG);
    CHECK(vec_codec_decode(c, q, NULL, 1, o, D, NULL) == VEC_OK);
    for (size_t j = 0; j < D; j++) CHECK(fabsf(o[j] - x[j]) <= 1.0f / 255.0f * 1.0001f);
    vec_codec_free(c);
  }
  /* a codec without ranges refuses them */
  vec_codec *i8 = make(VEC_CODEC_INT8, D, VEC_ROUND_NEAREST, 0.0f, 1.0f);
  CHECK(i8 && vec_codec_set_ranges(i8, lo, hi) == VEC_E_INVALID_ARG);
  vec_codec_free(i8);
}

/* A dimension constant in the calibration data keeps step 0: code 0 (int8: -128) whatever x is,
 * decoding to the constant. A range so narrow that (hi - lo) / 255 underflows behaves the same. */
static void constant_dimension(void) {
  enum { N = 6, D = 48 };
  float cal[N * D], x[D], o[D];
  uint8_t q[D];
  uint64_t seed = 8;
  fill_normal(cal, N, D, D, &seed, 1.0f);
  for (size_t i = 0; i < N; i++) cal[i * D + 3] = 0.75f, cal[i * D + 40] = -2.0f;
  for (size_t j = 0; j < D; j++) x[j] = (j & 1) ? 1e30f : -3.0f;
  x[40] = -2.0f; /* the constant itself */
  int isas[4], ni = vt_isas(isas);
  for (int k = 0; k < 2; k++) {
    for (int r = 0; r < 2; r++) {
      vec_codec *c = make(IDS[k], D, RNDS[r], 0.0f, 1.0f);
      CHECK(c && vec_codec_train(c, cal, N, D) == VEC_OK);
      for (int s = 0; s < ni; s++) {
        CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
        uint8_t want = IDS[k] == VEC_CODEC_UINT8_CAL ? 0x00 : 0x80;
        CHECK(q[3] == want && q[40] == want);
        CHECK(vec_codec_decode(c, q, NULL, 1, o, D, NULL) == VEC_OK);
        CHECK(o[3] == 0.75f && o[40] == -2.0f);
      }
      float lo[D], hi[D];
      CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_OK);
      lo[5] = 1.0f, hi[5] = nextafterf(1.0f, 2.0f); /* (hi - lo) / 255 is not 0 here... */
      lo[6] = 0.0f, hi[6] = 0x1p-149f;              /* ...but underflows to 0 here */
      x[5] = x[6] = 1e30f;
      CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_OK);
      for (int s = 0; s < ni; s++) {
        CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
        CHECK(q[6] == (IDS[k] == VEC_CODEC_UINT8_CAL ? 0x00 : 0x80));
        CHECK(q[5] == (IDS[k] == VEC_CODEC_UINT8_CAL ? 0xff : 0x7f)); /* clipped at the top */
        CHECK(vec_codec_decode(c, q, NULL, 1, o, D, NULL) == VEC_OK);
        CHECK(o[6] == 0.0f);
      }
      vec_codec_free(c);
    }
  }
}

/* Per-dimension ranges of several kinds for the ISA comparison: ordinary, step exactly 1 (with
 * half-integer data: exact ties), constant, subnormal-narrow, and huge. */
static void fill_case(float *x, size_t n, size_t d, size_t ldx, float *lo, float *hi, float *step,
                      uint64_t *seed) {
  for (size_t j = 0; j < d; j++) {
    unsigned kind = (unsigned)(vt_next(seed) % 8);
    float a = vt_uniform(seed), b = vt_uniform(seed);
    switch (kind) {
    case 0: lo[j] = 0.0f, hi[j] = 255.0f; break;
    case 1: lo[j] = hi[j] = a; break;
    case 2: lo[j] = 0.0f, hi[j] = 255 * 0x1p-149f; break;
    case 3: lo[j] = -1e37f, hi[j] = 1e37f; break;
    default: lo[j] = a < b ? a : b, hi[j] = a < b ? b : a;
    }
    step[j] = (hi[j] - lo[j]) / 255.0f;
    for (size_t i = 0; i < n; i++) {
      float *e = &x[i * ldx + j];
      float u = vt_uniform(seed);
      if (kind == 0)
        *e = (float)((int)(vt_next(seed) % 600) - 150) * 0.5f;
      else if (kind == 2)
        *e = (float)((int)(vt_next(seed) % 300) - 20) * 0x1p-149f;
      else if (kind == 3)
        *e = u * 3e38f;
      else
        *e = lo[j] + (hi[j] - lo[j]) * (u * 0.7f + 0.5f); /* some below, some above */
    }
  }
}

/* Every ISA against scalar, bit for bit: d = 1..4099, every mode, unaligned and strided input,
 * unaligned and aligned (streaming) output. */
static void isas_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t N = 3, DMAX = 4099;
  float *xb = alloc64((N * (DMAX + 5) + 64) * 4), *ob = alloc64((N * (DMAX + 5) + 64) * 4);
  float *oref = malloc(N * (DMAX + 5) * 4), *lo = malloc(DMAX * 4), *hi = malloc(DMAX * 4),
        *st = malloc(DMAX * 4);
  uint8_t *qb = alloc64(N * DMAX + 128), *qref = malloc(N * DMAX);
  uint64_t seed = 42;
  for (size_t d = 1; d <= DMAX; d++) {
    size_t off = d % 4, ldx = d + (d % 3 == 0 ? 5 : 0), ldo = d + (d % 4 == 1 ? 3 : 0);
    float *x = xb + off;
    fill_case(x, N, d, ldx, lo, hi, st, &seed);
    for (unsigned mode = 0; mode < 4; mode++) {
      CHECK(vec_cal_encode_scalar(x, N, d, ldx, qref, lo, st, mode, 0) == N);
      vec_cal_decode_scalar(qref, N, d, lo, st, mode, oref, ldo, 0);
      for (int k = 1; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        const vec_kernels *kt = vec_kernels_get();
        CHECK(kt->isa == (vec_isa)isas[k]);
        for (unsigned flags = 0; flags <= VEC_KF_STREAM; flags++) {
          uint8_t *q = qb + (flags ? 0 : 1);
          float *o = ob + (flags ? 0 : 1);
          CHECK(kt->cal.encode(x, N, d, ldx, q, lo, st, mode, flags) == N);
          CHECKF(memcmp(q, qref, N * d) == 0, "encode %s d=%zu mode %u flags %u",
                 vec_isa_name(kt->isa), d, mode, flags);
          kt->cal.decode(q, N, d, lo, st, mode, o, ldo, flags);
          for (size_t i = 0; i < N; i++)
            CHECKF(memcmp(o + i * ldo, oref + i * ldo, d * 4) == 0,
                   "decode %s d=%zu mode %u flags %u row %zu", vec_isa_name(kt->isa), d, mode,
                   flags, i);
        }
      }
    }
  }
  free(xb), free(ob), free(oref), free(lo), free(hi), free(st), free(qb), free(qref);
}

/* Inputs and outputs ending at an inaccessible page: any tail over-read or over-write faults. */
static void guard_pages(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  for (size_t d = 1; d <= 200; d++) {
    const size_t n = 2;
    void *hx, *hq, *ho, *hl, *hh;
    size_t zx, zq, zo, zl, zh;
    float *x = vt_guarded_alloc(n * d * 4, &hx, &zx);
    uint8_t *q = vt_guarded_alloc(n * d, &hq, &zq);
    float *o = vt_guarded_alloc(n * d * 4, &ho, &zo);
    float *lo = vt_guarded_alloc(d * 4, &hl, &zl), *hi = vt_guarded_alloc(d * 4, &hh, &zh);
    CHECK(x && q && o && lo && hi);
    fill_normal(x, n, d, d, &seed, 1.0f);
    for (size_t j = 0; j < d; j++) lo[j] = -0.1f, hi[j] = 0.2f;
    for (int k = 0; k < 2; k++) {
      for (int r = 0; r < 2; r++) {
        vec_codec *c = make(IDS[k], d, RNDS[r], 0.0f, 1.0f);
        CHECK(c && vec_codec_set_ranges(c, lo, hi) == VEC_OK);
        for (int s = 0; s < ni; s++) {
          CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
          CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
          CHECK(vec_codec_decode(c, q, NULL, n, o, d, NULL) == VEC_OK);
        }
        vec_codec_free(c);
      }
    }
    vt_guarded_free(hx, zx), vt_guarded_free(hq, zq), vt_guarded_free(ho, zo);
    vt_guarded_free(hl, zl), vt_guarded_free(hh, zh);
  }
}

static void nonfinite_rows_reported(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t n = 40, d = 77;
  float *x = malloc(n * d * 4), *cal = malloc(10 * d * 4);
  uint8_t *q = malloc(n * d);
  uint64_t seed = 9;
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  const size_t cols[3] = {0, 38, 76}; /* head, middle, last element (a SIMD tail) */
  fill_normal(cal, 10, d, d, &seed, 1.0f);
  for (size_t i = 0; i < 10; i++) cal[i * d + 38] = 1.0f; /* the bad value in a constant dim too */
  for (int k = 0; k < 2; k++) {
    vec_codec *c = make(IDS[k], d, VEC_ROUND_TRUNCATE, 0.0f, 1.0f);
    CHECK(c && vec_codec_train(c, cal, 10, d) == VEC_OK);
    for (int s = 0; s < ni; s++) {
      CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
      for (int b = 0; b < 3; b++) {
        for (int e = 0; e < 3; e++) {
          fill_normal(x, n, d, d, &seed, 1.0f);
          x[17 * d + cols[e]] = bad[b];
          x[30 * d + 3] = NAN; /* a later bad row must not be the one reported */
          CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_E_NONFINITE);
          CHECKF(vec_last_error_row() == 17, "%s: row %lld", vec_isa_name((vec_isa)isas[s]),
                 vec_last_error_row());
          CHECK(strstr(vec_last_error_message(), "row 17") != NULL);
        }
      }
    }
    fill_normal(x, n, d, d, &seed, 1.0f);
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
    CHECK(vec_last_error_row() == -1);
    vec_codec_free(c);
  }
  free(x), free(cal), free(q);
  /* a batch large enough for two threads: the lowest bad row wins whichever thread finds it */
  const size_t N2 = 12000, D2 = 256;
  float *big = malloc(N2 * D2 * 4);
  uint8_t *qb = malloc(N2 * D2);
  float lo[256], hi[256];
  for (size_t j = 0; j < D2; j++) lo[j] = -0.5f, hi[j] = 0.5f;
  fill_normal(big, N2, D2, D2, &seed, 1.0f);
  vec_codec *c = make(VEC_CODEC_UINT8_CAL, D2, VEC_ROUND_NEAREST, 0.0f, 1.0f);
  CHECK(c && vec_codec_set_ranges(c, lo, hi) == VEC_OK);
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = 2;
  const size_t first[2] = {8000, 3};
  for (int t = 0; t < 2; t++) {
    big[11000 * D2 + 255] = INFINITY;
    big[first[t] * D2 + 100] = NAN;
    CHECK(vec_codec_encode(c, big, N2, D2, qb, NULL, &o) == VEC_E_NONFINITE);
    CHECK(vec_last_error_row() == (long long)first[t]);
    big[first[t] * D2 + 100] = 0.0f;
  }
  vec_codec_free(c);
  free(big), free(qb);
}

/* Ranges survive serialization bit for bit (and so do the codes); a flipped byte among them is
 * refused. An untrained codec round-trips untrained. */
static void serialize_ranges(void) {
  const size_t d = 37, n = 50;
  float cal[50 * 37], lo[37], hi[37], lo2[37], hi2[37];
  uint8_t q1[50 * 37], q2[50 * 37];
  uint64_t seed = 21;
  fill_normal(cal, n, d, d, &seed, 1.0f);
  vec_codec *c = make(VEC_CODEC_INT8_CAL, d, VEC_ROUND_TRUNCATE, 0.05f, 0.95f), *c2;
  CHECK(c);
  size_t sz0 = vec_codec_serialized_size(c);
  unsigned char *buf = malloc(sz0 + 8 * d);
  CHECK(vec_codec_serialize(c, buf, sz0) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz0, &c2) == VEC_OK);
  CHECK(!vec_codec_is_trained(c2));
  vec_codec_free(c2);
  CHECK(vec_codec_train(c, cal, n, d) == VEC_OK);
  size_t sz = vec_codec_serialized_size(c);
  CHECK(sz == sz0 + 8 * d);
  CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  CHECK(vec_codec_kind(c2) == VEC_CODEC_INT8_CAL && vec_codec_is_trained(c2));
  const vec_codec_params *p = vec_codec_get_params(c2);
  CHECK(p->rounding == VEC_ROUND_TRUNCATE && p->calib_low_q == 0.05f && p->calib_high_q == 0.95f);
  CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_OK && vec_codec_get_ranges(c2, lo2, hi2) == VEC_OK);
  CHECK(memcmp(lo, lo2, sizeof lo) == 0 && memcmp(hi, hi2, sizeof hi) == 0);
  CHECK(vec_codec_encode(c, cal, n, d, q1, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, cal, n, d, q2, NULL, NULL) == VEC_OK);
  CHECK(memcmp(q1, q2, sizeof q1) == 0);
  vec_codec_free(c2);
  const size_t header = sz0 - 4; /* the ranges start where the untrained form's checksum was */
  for (size_t byte = header; byte < sz - 4; byte += 7) {
    buf[byte] ^= 0x10;
    CHECKF(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT, "byte %zu", byte);
    buf[byte] ^= 0x10;
  }
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  vec_codec_free(c2);
  vec_codec_free(c);
  free(buf);
}

/* Reconstruction error within half a step inside the range for both roundings (truncated codes
 * decode to their interval's middle), a quarter step on average. */
static void reconstruction_error(void) {
  const size_t ncal = 2000, n = 500, d = 96;
  float *cal = malloc(ncal * d * 4), *x = malloc(n * d * 4), *o = malloc(n * d * 4);
  float lo[96], hi[96];
  uint8_t *q = malloc(n * d);
  uint64_t seed = 31;
  fill_normal(cal, ncal, d, d, &seed, 1.0f);
  fill_normal(x, n, d, d, &seed, 1.0f);
  for (int k = 0; k < 2; k++) {
    double mae[2];
    for (int r = 0; r < 2; r++) {
      vec_codec *c = make(IDS[k], d, RNDS[r], 0.001f, 0.999f);
      CHECK(c && vec_codec_train(c, cal, ncal, d) == VEC_OK);
      CHECK(vec_codec_get_ranges(c, lo, hi) == VEC_OK);
      CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
      CHECK(vec_codec_decode(c, q, NULL, n, o, d, NULL) == VEC_OK);
      double sum = 0;
      size_t count = 0;
      for (size_t i = 0; i < n * d; i++) {
        size_t j = i % d;
        if (x[i] < lo[j] || x[i] > hi[j]) continue;
        float step = (hi[j] - lo[j]) / 255.0f, e = fabsf(o[i] - x[i]);
        /* int8 truncation's code 0 covers v in (127, 129): two steps wide */
        float half = (IDS[k] == VEC_CODEC_INT8_CAL && RNDS[r] == VEC_ROUND_TRUNCATE && q[i] == 0)
                         ? 1.0f
                         : 0.5f;
        CHECKF(e <= step * half * 1.001f + 1e-7f, "%s rnd %d elem %zu: err %g step %g",
               vec_codec_name(IDS[k]), RNDS[r], i, (double)e, (double)step);
        sum += e / step;
        count++;
      }
      mae[r] = sum / (double)count;
      CHECK(count > n * d * 9 / 10);
      vec_codec_free(c);
    }
    /* uniform error within a bucket: a quarter step for both, in expectation */
    CHECKF(mae[0] > 0.2 && mae[0] < 0.3 && mae[1] > 0.2 && mae[1] < 0.3, "%s: %g %g",
           vec_codec_name(IDS[k]), mae[0], mae[1]);
  }
  free(cal), free(x), free(o), free(q);
}

/* Level j of a packed uint4/uint6 row, bit by bit (no library code). */
static unsigned ref_level(const uint8_t *q, size_t j, unsigned bits) {
  unsigned u = 0;
  for (unsigned b = 0; b < bits; b++) {
    size_t pos = j * bits + b;
    u |= ((q[pos >> 3] >> (pos & 7)) & 1u) << b;
  }
  return u;
}

/* The uint4/uint6 unpacking of every ISA against the bit-by-bit reference: odd d, rows that end
 * mid-word, an unaligned source exactly as long as the rows (ASan sees any over-read), tails. */
static void lowbit_unpack_isas_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  const size_t N = 5;
  for (unsigned bits = 4; bits <= 6; bits += 2)
    for (size_t d = 1; d <= 300; d += (d < 140 ? 1 : 13)) {
      size_t cs = (d * bits + 7) / 8;
      uint8_t *src = malloc(N * cs + 3), *codes = src + d % 4; /* unaligned by 0..3 */
      uint8_t *want = malloc(N * d), *got = malloc(N * d);
      for (size_t i = 0; i < N * cs; i++) codes[i] = (uint8_t)vt_next(&seed);
      for (size_t r = 0; r < N; r++)
        for (size_t j = 0; j < d; j++)
          want[r * d + j] = (uint8_t)ref_level(codes + r * cs, j, bits);
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        memset(got, 0xAA, N * d);
        vec_kernels_get()->cal.unpack(codes, N, cs, d, bits, got);
        CHECKF(memcmp(got, want, N * d) == 0, "unpack %s bits %u d=%zu",
               vec_isa_name((vec_isa)isas[k]), bits, d);
      }
      free(src), free(want), free(got);
    }
  CHECK(vec_set_isa(VEC_ISA_AUTO) == VEC_OK);
}

/* uint4-cal / uint6-cal decode and search (the unpacking, then the uint8 kernels) give the same
 * bits on every ISA as on scalar, at odd and even d. */
static void lowbit_codec_isas_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  const vec_codec_id ids[2] = {VEC_CODEC_UINT4_CAL, VEC_CODEC_UINT6_CAL};
  const size_t dims[] = {1, 7, 33, 97, 130, 385}, N = 70, NQ = 3;
  uint64_t seed = 11;
  for (int c = 0; c < 2; c++)
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
      size_t d = dims[di];
      vec_codec_params p = VEC_CODEC_PARAMS_INIT(ids[c], d);
      vec_codec *codec;
      CHECK(vec_codec_create(&p, &codec) == VEC_OK);
      float *x = malloc(N * d * 4), *ref = malloc(N * d * 4), *out = malloc(N * d * 4);
      float *sref = malloc(NQ * N * 4), *sc = malloc(NQ * N * 4);
      for (size_t i = 0; i < N * d; i++) x[i] = vt_uniform(&seed);
      CHECK(vec_codec_train(codec, x, N, d) == VEC_OK);
      size_t cs = vec_codec_code_size(codec);
      uint8_t *codes = malloc(N * cs);
      CHECK(vec_codec_encode(codec, x, N, d, codes, NULL, NULL) == VEC_OK);
      uint8_t *qs = malloc(NQ * codec->ops->query_size(codec));
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        float *o = k ? out : ref, *s = k ? sc : sref;
        CHECK(vec_codec_decode(codec, codes, NULL, N, o, d, NULL) == VEC_OK);
        for (size_t j = 0; j < NQ; j++)
          codec->ops->query_prepare(codec, x + j * d, qs + j * codec->ops->query_size(codec));
        codec->ops->score(codec, qs, NQ, codes, NULL, N, s, NULL, N);
        if (k) {
          CHECKF(memcmp(out, ref, N * d * 4) == 0, "decode %s %s d=%zu",
                 vec_isa_name((vec_isa)isas[k]), vec_codec_name(ids[c]), d);
          CHECKF(memcmp(sc, sref, NQ * N * 4) == 0, "score %s %s d=%zu",
                 vec_isa_name((vec_isa)isas[k]), vec_codec_name(ids[c]), d);
        }
      }
      /* and the scores are q . decode(x) to the two digits' precision */
      for (size_t j = 0; j < NQ; j++)
        for (size_t i = 0; i < N; i++) {
          double e = 0, a = 0;
          for (size_t t = 0; t < d; t++)
            e += (double)x[j * d + t] * ref[i * d + t],
                a += fabs((double)x[j * d + t] * ref[i * d + t]);
          CHECKF(fabs(sref[j * N + i] - e) <= 1e-4 * a + 1e-6, "score %zu %zu: %g vs %g", j, i,
                 (double)sref[j * N + i], e);
        }
      vec_codec_free(codec);
      free(x), free(ref), free(out), free(sref), free(sc), free(codes), free(qs);
    }
  CHECK(vec_set_isa(VEC_ISA_AUTO) == VEC_OK);
}

/* The kernels follow vec_set_isa per call, and mode bits agree with the codec's parameters. */
static void dispatch_follows_isa(void) {
  int isas[4], ni = vt_isas(isas);
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_kernels_get()->isa == (vec_isa)isas[k]);
  }
  CHECK(mode_of(VEC_CODEC_INT8_CAL, VEC_ROUND_TRUNCATE) == (VEC_CAL_INT8 | VEC_CAL_TRUNC));
}

const vt_test calibrated_tests[] = {
    {"st_truncate_bit_exact", st_truncate_bit_exact},
    {"matches_reference", matches_reference},
    {"hand_computed_codes", hand_computed_codes},
    {"clipping_and_special_values", clipping_and_special_values},
    {"quantile_calibration", quantile_calibration},
    {"training_and_range_errors", training_and_range_errors},
    {"constant_dimension", constant_dimension},
    {"isas_bit_identical", isas_bit_identical},
    {"guard_pages", guard_pages},
    {"nonfinite_rows_reported", nonfinite_rows_reported},
    {"serialize_ranges", serialize_ranges},
    {"reconstruction_error", reconstruction_error},
    {"dispatch_follows_isa", dispatch_follows_isa},
    {"lowbit_unpack_isas_bit_identical", lowbit_unpack_isas_bit_identical},
    {"lowbit_codec_isas_bit_identical", lowbit_codec_isas_bit_identical},
};
const size_t calibrated_count = sizeof calibrated_tests / sizeof calibrated_tests[0];
