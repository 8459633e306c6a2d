/* intq.c: the per-vector symmetric int16 and int4 codecs (int4 optionally per group of dims).
 * Same construction as int8 with L = 32767 or 7 levels a side; the math is in src/kernels/intq_*.
 *
 * Per row (int16, int4 with g = 0) or per group of g consecutive dims (int4; the last may be
 * shorter): m = max|x| (exact, from |x| bit patterns; NaN/Inf refuse the row), inv = L / m once,
 * q = clamp(round_half_even(x * inv), -L, L) whatever the FP rounding mode, s = m / L (one ulp
 * lower where L * s would be Inf), x^ = q * s. m = 0 gives s = 0 and zero codes; m < 2^-96 is
 * pre-scaled by 2^96 (exact) so that L / m stays finite. int4 packs element 2j in the low nibble
 * of byte j and 2j+1 in the high one (4-bit two's complement; odd d leaves the last high nibble
 * 0). g is even, so every group starts on a byte boundary. */
#include <string.h>

#include "../kernels/kernels.h"
#include "codec_impl.h"

/* Chosen per call, not cached: vec_set_isa() may change the active set between batches. */
static const vec_intq_kernels *kernels(void) { return &vec_kernels_get()->intq; }

static size_t one_scale(const vec_codec *c) {
  (void)c;
  return 1;
}

static size_t i16_code_size(const vec_codec *c) { return 2 * c->d; }

static size_t i16_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                         float *scales, unsigned flags, int *rc) {
  size_t done = kernels()->encode_i16(x, n, c->d, ldx, codes, 2 * c->d, scales, flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void i16_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out, size_t ldo, unsigned flags) {
  kernels()->decode_i16(codes, n, c->d, 2 * c->d, scales, out, ldo, flags);
}

/* int16 search straight from codes: the float query against the codes widened in registers, the
 * row's scale applied to the sum (ip = s * sum q_j c_j). The prepared query is the query itself,
 * zero-padded (score_kernels.h), as for f16. */
static size_t i16_query_size(const vec_codec *c) {
  return VEC_SCORE_HDR + vec_score_pad64(c->d * sizeof(float));
}
static void i16_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  memset(h, 0, i16_query_size(c));
  memcpy(h + VEC_SCORE_HDR, q, c->d * sizeof(float));
}
static void i16_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                      const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)err;
  vec_score_pick_i16()(qs, i16_query_size(c), nq, codes, scales, nr, c->d, ip, ldo);
}

/* The group the kernels see: 0 (one scale a row) and anything >= d both mean the whole row. */
static size_t i4_group(const vec_codec *c) {
  return c->p.group_size == 0 || c->p.group_size >= c->d ? c->d : c->p.group_size;
}
static size_t i4_code_size(const vec_codec *c) { return (c->d + 1) / 2; }
static size_t i4_scale_count(const vec_codec *c) {
  size_t g = i4_group(c);
  return (c->d + g - 1) / g;
}

static size_t i4_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  size_t done = kernels()->encode_i4(x, n, c->d, i4_group(c), ldx, codes, i4_code_size(c), scales,
                                     i4_scale_count(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void i4_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  kernels()->decode_i4(codes, n, c->d, i4_group(c), i4_code_size(c), scales, i4_scale_count(c), out,
                       ldo, flags);
}

/* int4 search straight from codes: the query quantized to int8 as for the int8 codec (its own
 * scale sq), its even and odd elements stored apart to meet the two nibbles of a code byte; then
 * ip = sq * sum over groups of s_g * (integer dot of the group). */
/* Rows with groups score from the codes where a SIMD kernel takes the shape (x86:
 * score_i4g_tmpl.h; NEON: any);
 * the scalar kernel loses to decoding a tile and the float dot kernels, so it is not preferred. */
static int i4_score_preferred(const vec_codec *c) {
  return vec_score_i4_preferred(c->d, i4_group(c));
}
/* The x86 kernels transpose a tile of rows once per call: more queries a call amortise it. */
static size_t i4_score_queries(const vec_codec *c) {
  (void)c;
  return 32;
}

static size_t i4_query_half(const vec_codec *c) { return vec_score_pad64(i4_code_size(c)); }
/* The prepared query: header, the even and odd halves, d bytes of scratch where the codes are made
 * before the split, then the per-group biases (score_kernels.h). */
static size_t i4_query_size(const vec_codec *c) {
  return vec_score_i4_corr_off(c->d) + vec_score_pad64(4 * i4_scale_count(c));
}

static void i4_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  size_t half = i4_query_half(c), d = c->d;
  int8_t *qe = (int8_t *)(h + VEC_SCORE_HDR), *qo = qe + half, *all = qo + half;
  float sq = 0.0f;
  memset(h, 0, i4_query_size(c));
  vec_int8_encode_scalar(q, 1, d, d, all, d, &sq, 0); /* the scalar encoder: same bytes anywhere */
  memcpy(h, &sq, sizeof sq);
  for (size_t k = 0; 2 * k < d; k++) qe[k] = all[2 * k];
  for (size_t k = 0; 2 * k + 1 < d; k++) qo[k] = all[2 * k + 1];
  size_t nb = i4_code_size(c), g = i4_group(c), ng = i4_scale_count(c);
  for (size_t gi = 0; gi < ng; gi++) {
    size_t b0 = gi * g / 2, b1 = gi + 1 == ng ? nb : (gi + 1) * g / 2;
    int32_t corr = 0;
    for (size_t k = b0; k < b1; k++) corr += 8 * ((int32_t)qe[k] + qo[k]);
    memcpy(h + vec_score_i4_corr_off(d) + 4 * gi, &corr, sizeof corr);
  }
}

static void i4_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)err;
  vec_score_pick_i4(c->d)(qs, VEC_QSTRIDE(c), nq, codes, scales, nr, c->d, i4_group(c), ip, ldo);
}

/* As for f16 (half.c): 64 queries a call amortise the widened, transposed tile. */
static size_t i16_score_queries(const vec_codec *c) {
  (void)c;
  return 64;
}

const vec_codec_ops vec_ops_int16 = {.id = VEC_CODEC_INT16,
                                     .name = "int16",
                                     .needs_training = 0,
                                     .code_size = i16_code_size,
                                     .scale_count = one_scale,
                                     .encode = i16_encode,
                                     .decode = i16_decode,
                                     .query_size = i16_query_size,
                                     .query_prepare = i16_query_prepare,
                                     .score = i16_score,
                                     .score_queries = i16_score_queries};
const vec_codec_ops vec_ops_int4 = {.id = VEC_CODEC_INT4,
                                    .name = "int4",
                                    .needs_training = 0,
                                    .can_center = 1,
                                    .code_size = i4_code_size,
                                    .scale_count = i4_scale_count,
                                    .encode = i4_encode,
                                    .decode = i4_decode,
                                    .query_size = i4_query_size,
                                    .query_prepare = i4_query_prepare,
                                    .score = i4_score,
                                    .score_preferred = i4_score_preferred,
                                    .score_queries = i4_score_queries};
