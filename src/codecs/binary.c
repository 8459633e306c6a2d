/* binary.c: the binary (sign-bit) codec: one bit per dimension, bit = (x > 0), packed exactly as
 * numpy.packbits(x > 0, axis=-1); the kernels live in src/kernels/binary_*.c.
 *
 * The codes are byte-identical to sentence-transformers' "ubinary" precision
 * (np.packbits(emb > 0).astype(uint8)); its "binary" precision is the same bytes minus 128 as int8.
 * They can be searched as they are with FAISS IndexBinaryFlat (Hamming distance).
 *
 * Decoding gives +1.0f for a set bit and -1.0f otherwise. Binary keeps only signs, not magnitudes,
 * so a reconstruction is compared with its input by cosine (direction), never by L2 error: its
 * norm is sqrt(d) whatever the input's. */
#include <math.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "codec_impl.h"

static size_t binary_code_size(const vec_codec *c) { return (c->d + 7) / 8; }
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

/* NaN has no meaningful sign, and Inf is refused too, as by every other codec, so that one bad
 * embedding is reported the same way whichever codec a pipeline uses. */
static size_t binary_encode_op(const vec_codec *c, const float *x, size_t n, size_t ldx,
                               uint8_t *codes, float *scales, unsigned flags, int *rc) {
  (void)scales;
  size_t done =
      vec_kernels_get()->binary.encode(x, n, c->d, ldx, codes, binary_code_size(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void binary_decode_op(const vec_codec *c, const uint8_t *codes, const float *scales,
                             size_t n, float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_kernels_get()->binary.decode(codes, n, c->d, binary_code_size(c), out, ldo, flags);
}

/* Search straight from codes: the query becomes q^ = sign(q) * mean|q|, so q^.x^ = mean|q| *
 * (d - 2 * hamming): Hamming ranking, with a scale that keeps L2 and cosine keys meaningful. */
static size_t binary_query_size(const vec_codec *c) {
  return VEC_SCORE_HDR + vec_score_pad64(binary_code_size(c));
}

static void binary_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  memset(h, 0, binary_query_size(c));
  vec_binary_encode_scalar(q, 1, c->d, c->d, h + VEC_SCORE_HDR, binary_code_size(c), 0);
  double s = 0.0; /* in order, in double: the same mean on every ISA */
  for (size_t j = 0; j < c->d; j++) s += fabs((double)q[j]);
  float mq = (float)(s / (double)c->d);
  memcpy(h, &mq, sizeof mq);
}

/* Centred codes (centre.c): the bits of q - cen and mean |q - cen|, so the scan stays Hamming. */
static void binary_query_prepare_centred(const vec_codec *c, const float *q, const float *cen,
                                         void *qs) {
  uint8_t *h = qs, *bits = h + VEC_SCORE_HDR;
  memset(h, 0, binary_query_size(c));
  double s = 0.0;
  for (size_t j = 0; j < c->d; j++) {
    float v = q[j] - cen[j];
    if (v > 0.0f) bits[j >> 3] |= (uint8_t)(0x80u >> (j & 7)); /* packbits: first dim in the MSB */
    s += fabs((double)v);
  }
  float mq = (float)(s / (double)c->d);
  memcpy(h, &mq, sizeof mq);
}

static void binary_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                         const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  vec_score_pick_b1()(qs, VEC_QSTRIDE(c), nq, codes, nr, c->d, ip, ldo);
}

static void binary_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                           float *out) {
  (void)codes;
  (void)scales;
  for (size_t i = 0; i < n; i++) out[i] = (float)c->d; /* every x^ is +-1 in each dimension */
}

/* The x86 batch kernels transpose a tile of rows once a call (search_tmpl.h): a batch of 64 queries
 * a call amortises it. */
static size_t binary_score_queries(const vec_codec *c) {
  (void)c;
  return 64;
}

const vec_codec_ops vec_ops_binary = {.id = VEC_CODEC_BINARY,
                                      .name = "binary",
                                      .needs_training = 0,
                                      .can_center = 1,
                                      .code_size = binary_code_size,
                                      .scale_count = no_scales,
                                      .encode = binary_encode_op,
                                      .decode = binary_decode_op,
                                      .query_size = binary_query_size,
                                      .query_prepare = binary_query_prepare,
                                      .score = binary_score,
                                      .query_prepare_centred = binary_query_prepare_centred,
                                      .sqnorms = binary_sqnorms,
                                      .score_queries = binary_score_queries};
