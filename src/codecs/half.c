/* half.c: the f16 (IEEE binary16) and bf16 (bfloat16) codecs: d little-endian uint16 codes per
 * row, no scales, no training. The conversions live in src/kernels/half_*.c. */
#include <string.h>

#include "../kernels/kernels.h"
#include "codec_impl.h"

static size_t two_bytes_per_dim(const vec_codec *c) { return 2 * c->d; }
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

/* f16 refuses values past its range (65504) in the kernels. At the other end, a non-zero row whose
 * every value is below f16's smallest subnormal (2^-24; rows of 1e-22) would encode to all zeros
 * and decode to a zero row: refused too (VEC_E_RANGE), rather than losing the row silently. The
 * check reads a row's floats only when its codes are all zero. */
static size_t f16_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                         float *scales, unsigned flags, int *rc) {
  (void)scales;
  size_t done = vec_kernels_get()->half.encode_f16(x, n, c->d, ldx, codes, flags, rc), d = c->d;
  for (size_t i = 0; i < done; i++) {
    const uint8_t *r = codes + i * 2 * d;
    size_t j = 0;
    while (j < d && (r[2 * j] | (r[2 * j + 1] & 0x7f)) == 0) j++;
    if (j < d) continue;
    for (j = 0; j < d && x[i * ldx + j] == 0.0f; j++) {
    }
    if (j < d) {
      *rc = VEC_E_RANGE;
      return i;
    }
  }
  return done;
}
static void f16_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_kernels_get()->half.decode_f16(codes, n, c->d, out, ldo, flags);
}
static size_t bf16_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                          float *scales, unsigned flags, int *rc) {
  (void)scales;
  return vec_kernels_get()->half.encode_bf16(x, n, c->d, ldx, codes, flags, rc);
}
static void bf16_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                        float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_kernels_get()->half.decode_bf16(codes, n, c->d, out, ldo, flags);
}

/* Search straight from codes: the float query against codes widened in registers (no decode
 * pass). The prepared query is the query itself, zero-padded (score_kernels.h). */
static size_t half_query_size(const vec_codec *c) {
  return VEC_SCORE_HDR + vec_score_pad64(c->d * sizeof(float));
}
static void half_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  memset(h, 0, half_query_size(c));
  memcpy(h + VEC_SCORE_HDR, q, c->d * sizeof(float));
}
static void f16_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                      const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  vec_score_pick_f16()(qs, half_query_size(c), nq, codes, nr, c->d, ip, ldo);
}
static void bf16_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                       const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  vec_score_pick_bf16()(qs, half_query_size(c), nq, codes, nr, c->d, ip, ldo);
}

/* The x86 batch kernels widen and transpose a tile of rows once a call (search_wide_tmpl.h): a
 * batch of 64 queries a call amortises it (at 8 a call the widening took 40 % of the time). */
static size_t half_score_queries(const vec_codec *c) {
  (void)c;
  return 64;
}

const vec_codec_ops vec_ops_f16 = {.id = VEC_CODEC_F16,
                                   .name = "f16",
                                   .needs_training = 0,
                                   .code_size = two_bytes_per_dim,
                                   .scale_count = no_scales,
                                   .encode = f16_encode,
                                   .decode = f16_decode,
                                   .query_size = half_query_size,
                                   .query_prepare = half_query_prepare,
                                   .score = f16_score,
                                   .score_queries = half_score_queries};
const vec_codec_ops vec_ops_bf16 = {.id = VEC_CODEC_BF16,
                                    .name = "bf16",
                                    .needs_training = 0,
                                    .code_size = two_bytes_per_dim,
                                    .scale_count = no_scales,
                                    .encode = bf16_encode,
                                    .decode = bf16_decode,
                                    .query_size = half_query_size,
                                    .query_prepare = half_query_prepare,
                                    .score = bf16_score,
                                    .score_queries = half_score_queries};
