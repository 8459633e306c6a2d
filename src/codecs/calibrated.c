/* calibrated.c: the calibrated codecs uint8-cal and int8-cal (per-dimension ranges learned by
 * codec.c, as sentence-transformers' quantize_embeddings); their kernels come from the kernel
 * table (src/kernels). */
#include <math.h>
#include <string.h>

#include "../kernels/calib_unpack_kernels.h"
#include "../kernels/kernels.h"
#include "../kernels/score_kernels.h"
#include "codec_impl.h"

static unsigned mode_of(const vec_codec *c) {
  return (c->ops->id == VEC_CODEC_INT8_CAL ? VEC_CAL_INT8 : 0u) |
         (c->p.rounding == VEC_ROUND_TRUNCATE ? VEC_CAL_TRUNC : 0u);
}

static size_t cal_code_size(const vec_codec *c) { return c->d; }
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

static size_t cal_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                         float *scales, unsigned flags, int *rc) {
  (void)scales;
  size_t done =
      vec_kernels_get()->cal.encode(x, n, c->d, ldx, codes, c->lo, c->step, mode_of(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void cal_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_kernels_get()->cal.decode(codes, n, c->d, c->lo, c->step, mode_of(c), out, ldo, flags);
}

/* Search straight from codes: x^_j = lo_j + t_j step_j (t the level, + 0.5 for truncated codes),
 * so q . x^ = c0 + sum_j w_j u_j with w = q * step and c0 = q . lo (+ sum w / 2). w is held as two
 * int8 digits, w ~ sw (h_j + l_j / 254): h = w / sw rounded, l its remainder times 254, rounded.
 * One digit (int8 weights) cost recall that FAISS's float queries keep (e5 recall@10: uint8 0.986
 * against 0.989 with exact float weights, SQ8 0.987; uint6 0.952 against 0.954, SQ6 0.954); two
 * digits give ~16 bits for twice the (integer, exact) dot products, each digit through the same
 * uint8 kernel of the active ISA, so every ISA gives the same bits. A digit's block is a header
 * (sw, c0) and the padded weights; the second's header is (sw / 254, 0). */
static size_t cal_digit_size(const vec_codec *c) { return VEC_SCORE_HDR + vec_score_pad64(c->d); }
static size_t cal_query_size(const vec_codec *c) { return 2 * cal_digit_size(c); }

/* x rounded half to even by hand: nearbyint would follow the caller's rounding mode. */
static double round_even(double x) {
  double v = floor(x), f = x - v;
  return v + (double)((f > 0.5) | ((f == 0.5) & (fmod(v, 2.0) != 0.0)));
}

static void cal_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs, *h2 = h + cal_digit_size(c);
  int8_t *wc = (int8_t *)(h + VEC_SCORE_HDR), *wl = (int8_t *)(h2 + VEC_SCORE_HDR);
  size_t d = c->d;
  memset(h, 0, cal_query_size(c));
  if (!c->lo) return; /* untrained: nothing can have been encoded; scores come out 0 */
  /* In double and in order: the same bytes on every ISA. */
  double m = 0.0, c0 = 0.0, wsum = 0.0;
  for (size_t j = 0; j < d; j++) {
    double w = (double)q[j] * c->step[j];
    m = fabs(w) > m ? fabs(w) : m;
    c0 += (double)q[j] * c->lo[j];
    wsum += w;
  }
  if (c->p.rounding == VEC_ROUND_TRUNCATE) c0 += 0.5 * wsum;
  float sw = (float)(m / 127.0), sw2 = (float)(m / (127.0 * 254.0));
  if (m > 0.0)
    for (size_t j = 0; j < d; j++) {
      double x = (double)q[j] * c->step[j] * (127.0 / m), v = round_even(x);
      v = v > 127.0 ? 127.0 : v < -127.0 ? -127.0 : v;
      double r = round_even((x - v) * 254.0); /* x - v in [-0.5, 0.5]: r in [-127, 127] */
      wc[j] = (int8_t)v;
      wl[j] = (int8_t)(r > 127.0 ? 127 : r < -127.0 ? -127 : r);
    }
  float c0f = (float)c0, zero = 0.0f;
  memcpy(h, &sw, sizeof sw);
  memcpy(h + 4, &c0f, sizeof c0f);
  memcpy(h2, &sw2, sizeof sw2);
  memcpy(h2 + 4, &zero, sizeof zero);
}

/* Scores of the two digits: the first written to ip, the second's added a tile at a time (its
 * scratch on the stack), in that order on every ISA. */
#define CAL_TMP_FLOATS 2048
static void cal_score_digits(const vec_codec *c, vec_score_u8_fn kern, const uint8_t *qs, size_t nq,
                             const uint8_t *codes, size_t nr, unsigned flip, float *ip,
                             size_t ldo) {
  size_t d = c->d, stride = VEC_QSTRIDE(c), ds = cal_digit_size(c);
  float tmp[CAL_TMP_FLOATS];
  kern(qs, stride, nq, codes, nr, d, flip, ip, ldo);
  size_t qb = nq < 32 ? nq : 32, rb = CAL_TMP_FLOATS / (qb ? qb : 1);
  for (size_t q0 = 0; q0 < nq; q0 += qb) {
    size_t qn = nq - q0 < qb ? nq - q0 : qb;
    for (size_t r0 = 0; r0 < nr; r0 += rb) {
      size_t rn = nr - r0 < rb ? nr - r0 : rb;
      kern(qs + q0 * stride + ds, stride, qn, codes + r0 * d, rn, d, flip, tmp, rn);
      for (size_t j = 0; j < qn; j++)
        for (size_t r = 0; r < rn; r++) ip[(q0 + j) * ldo + r0 + r] += tmp[j * rn + r];
    }
  }
}

static void cal_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                      const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  unsigned flip = c->ops->id == VEC_CODEC_INT8_CAL ? 0x80u : 0u; /* int8 level = byte ^ 0x80 */
  cal_score_digits(c, vec_score_pick_u8(c->d), qs, nq, codes, nr, flip, ip, ldo);
}

/* The x86 batch kernels transpose a tile of rows once a call (search_tmpl.h): a batch of 64 queries
 * a call amortises it. */
static size_t cal_score_queries(const vec_codec *c) {
  (void)c;
  return 64;
}

const vec_codec_ops vec_ops_uint8_cal = {.id = VEC_CODEC_UINT8_CAL,
                                         .name = "uint8-cal",
                                         .needs_training = 1,
                                         .can_center = 1,
                                         .code_size = cal_code_size,
                                         .scale_count = no_scales,
                                         .encode = cal_encode,
                                         .decode = cal_decode,
                                         .query_size = cal_query_size,
                                         .query_prepare = cal_query_prepare,
                                         .score = cal_score,
                                         .score_queries = cal_score_queries};
const vec_codec_ops vec_ops_int8_cal = {.id = VEC_CODEC_INT8_CAL,
                                        .name = "int8-cal",
                                        .needs_training = 1,
                                        .can_center = 1,
                                        .code_size = cal_code_size,
                                        .scale_count = no_scales,
                                        .encode = cal_encode,
                                        .decode = cal_decode,
                                        .query_size = cal_query_size,
                                        .query_prepare = cal_query_prepare,
                                        .score = cal_score,
                                        .score_queries = cal_score_queries};

/* ---- uint4-cal and uint6-cal: per-dimension ranges with 16 or 64 levels, packed LSB first
 * (dimension j in bits [B j, B j + B) of the row's bytes, read little-endian: for 4 bits,
 * dimension 2i in the low nibble of byte i), as FAISS's QT_4bit / QT_6bit. Round to nearest only.
 * ---- */
static unsigned lb_bits(const vec_codec *c) { return c->base->id == VEC_CODEC_UINT6_CAL ? 6u : 4u; }
static size_t lb_code_size(const vec_codec *c) { return (c->d * lb_bits(c) + 7) / 8; }

/* v = (x - lo) / step (a true division, as the 8-bit codes), clamped to 0..top, rounded half to
 * even by hand so the FP environment cannot change it. */
static inline unsigned lb_code(float x, float lo, float step, float top) {
  if (step == 0.0f) return 0;
  float v = (x - lo) / step;
  v = v < 0.0f ? 0.0f : (v > top ? top : v);
  int r = (int)v;
  float frac = v - (float)r;
  r += (frac > 0.5f) | ((frac == 0.5f) & (r & 1));
  return (unsigned)r;
}

/* Level of dimension j in a packed row of cs bytes. */
static inline unsigned lb_get(const uint8_t *q, size_t j, unsigned bits, size_t cs) {
  size_t pos = j * bits, b = pos >> 3;
  unsigned w = q[b] | (b + 1 < cs ? (unsigned)q[b + 1] << 8 : 0u);
  return (w >> (pos & 7)) & ((1u << bits) - 1u);
}

static int lb_check(const vec_codec_params *p) {
  if (p->rounding != VEC_ROUND_NEAREST)
    return vec_fail(VEC_E_INVALID_ARG, -1, "uint4-cal and uint6-cal round to nearest only");
  return VEC_OK;
}

static size_t lb_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  (void)scales;
  (void)flags;
  size_t d = c->d, cs = lb_code_size(c);
  unsigned bits = lb_bits(c);
  float top = VEC_CAL_LEVELS(c);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    for (size_t j = 0; j < d; j++)
      if (!isfinite(row[j])) {
        *rc = VEC_E_NONFINITE;
        return i;
      }
    uint8_t *o = codes + i * cs;
    memset(o, 0, cs);
    for (size_t j = 0; j < d; j++) {
      unsigned u = lb_code(row[j], c->lo[j], c->step[j], top);
      size_t pos = j * bits, b = pos >> 3;
      unsigned sh = (unsigned)(pos & 7);
      o[b] |= (uint8_t)(u << sh);
      if (sh + bits > 8) o[b + 1] |= (uint8_t)(u >> (8 - sh));
    }
  }
  return n;
}

/* Rows unpacked per call of the uint8 kernel: the scratch is at most this many bytes. */
#define LB_TILE_BYTES 16384

/* Decoding: the levels unpacked to bytes a tile at a time (SIMD, calib_unpack_*.c), then the
 * uint8-cal decode kernel: x^ = lo + u * step, the same bits on every ISA. */
static void lb_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)scales;
  size_t d = c->d, cs = lb_code_size(c);
  unsigned bits = lb_bits(c);
  if (d > LB_TILE_BYTES) {
    for (size_t i = 0; i < n; i++) {
      const uint8_t *q = codes + i * cs;
      float *o = out + i * ldo;
      for (size_t j = 0; j < d; j++) {
        float p = (float)lb_get(q, j, bits, cs) * c->step[j]; /* never fused */
        o[j] = c->lo[j] + p;
      }
    }
    return;
  }
  uint8_t tile[LB_TILE_BYTES];
  size_t rows = LB_TILE_BYTES / d;
  const vec_cal_kernels *k = &vec_kernels_get()->cal;
  vec_cal_unpack_fn unpack = k->unpack;
  for (size_t r0 = 0; r0 < n; r0 += rows) {
    size_t m = n - r0 < rows ? n - r0 : rows;
    unpack(codes + r0 * cs, m, cs, d, bits, tile);
    k->decode(tile, m, d, c->lo, c->step, 0u, out + r0 * ldo, ldo, flags);
  }
}

/* Search: the uint8-cal query (w = q * step as int8, c0 = q . lo) against the levels, which are
 * unpacked to bytes a tile at a time and scored by the uint8-cal kernel of the active ISA (AVX2
 * maddubs, AVX-512 VNNI, NEON): the integer dot is exact, so every ISA gives the same bits. */
static void lb_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  size_t d = c->d, cs = lb_code_size(c), stride = VEC_QSTRIDE(c);
  unsigned bits = lb_bits(c);
  uint8_t tile[LB_TILE_BYTES];
  if (d > LB_TILE_BYTES || d > VEC_SCORE_U8_MAX_D) {
    /* Rows too long for the scratch: the same integer dot and epilogue, one row at a time. */
    for (size_t j = 0; j < nq; j++) {
      const uint8_t *h = (const uint8_t *)qs + j * stride, *h2 = h + cal_digit_size(c);
      const int8_t *w = (const int8_t *)(h + VEC_SCORE_HDR),
                   *w2 = (const int8_t *)(h2 + VEC_SCORE_HDR);
      float sw = vec_score_hdr_f32(h), c0 = vec_score_hdr_f32(h + 4);
      float sw2 = vec_score_hdr_f32(h2), c02 = vec_score_hdr_f32(h2 + 4);
      for (size_t r = 0; r < nr; r++) {
        const uint8_t *q = codes + r * cs;
        int64_t dot = 0, dot2 = 0;
        for (size_t k = 0; k < d; k++) {
          unsigned u = lb_get(q, k, bits, cs);
          dot += (int64_t)w[k] * u, dot2 += (int64_t)w2[k] * u;
        }
        ip[j * ldo + r] = vec_score_u8_out(c0, sw, dot) + vec_score_u8_out(c02, sw2, dot2);
      }
    }
    return;
  }
  vec_score_u8_fn kern = vec_score_pick_u8(d);
  vec_cal_unpack_fn unpack = vec_kernels_get()->cal.unpack;
  size_t rows = LB_TILE_BYTES / d;
  for (size_t r0 = 0; r0 < nr; r0 += rows) {
    size_t m = nr - r0 < rows ? nr - r0 : rows;
    unpack(codes + r0 * cs, m, cs, d, bits, tile);
    cal_score_digits(c, kern, qs, nq, tile, m, 0u, ip + r0, ldo);
  }
}

#define LOWBIT_OPS(id_, name_)                                                                     \
  {.id = (id_),                                                                                    \
   .name = (name_),                                                                                \
   .needs_training = 1,                                                                            \
   .can_center = 1,                                                                                \
   .code_size = lb_code_size,                                                                      \
   .scale_count = no_scales,                                                                       \
   .check = lb_check,                                                                              \
   .encode = lb_encode,                                                                            \
   .decode = lb_decode,                                                                            \
   .query_size = cal_query_size,                                                                   \
   .query_prepare = cal_query_prepare,                                                             \
   .score = lb_score}
const vec_codec_ops vec_ops_uint4_cal = LOWBIT_OPS(VEC_CODEC_UINT4_CAL, "uint4-cal");
const vec_codec_ops vec_ops_uint6_cal = LOWBIT_OPS(VEC_CODEC_UINT6_CAL, "uint6-cal");
