/* calibrated.c: the calibrated codecs uint8-cal and int8-cal (per-dimension ranges learned by
 * codec.c, as sentence-transformers' quantize_embeddings), their scalar reference kernels, and
 * the ops that pick a kernel for the active instruction set. */
#include <math.h>
#include <string.h>

#include "../kernels/calibrated_kernels.h"
#include "../kernels/score_kernels.h"
#include "codec_impl.h"

size_t vec_encode_cal_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                             const float *lo, const float *step, unsigned mode, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    uint32_t amax = 0;
    for (size_t j = 0; j < d; j++) {
      uint32_t a = vec_cal_f2u(row[j]) & VEC_CAL_ABS_MASK;
      amax = a > amax ? a : amax;
    }
    /* Checked before any division: a NaN or Inf never reaches the rounding code. */
    if (amax >= VEC_CAL_NONFINITE_BITS) return i;
    for (size_t j = 0; j < d; j++) qr[j] = vec_cal_code(row[j], lo[j], step[j], mode);
  }
  return n;
}

void vec_decode_cal_scalar(const uint8_t *q, size_t n, size_t d, const float *lo, const float *step,
                           unsigned mode, float *out, size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    for (size_t j = 0; j < d; j++) o[j] = vec_cal_decode1(qr[j], lo[j], step[j], mode);
  }
}

const vec_cal_kernels vec_cal_kernels_scalar = {VEC_ISA_SCALAR, vec_encode_cal_scalar,
                                                vec_decode_cal_scalar};

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
      vec_cal_kernels_active()->encode(x, n, c->d, ldx, codes, c->lo, c->step, mode_of(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void cal_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_cal_kernels_active()->decode(codes, n, c->d, c->lo, c->step, mode_of(c), out, ldo, flags);
}

/* Search straight from codes: x^_j = lo_j + t_j step_j (t the level, + 0.5 for truncated codes),
 * so q . x^ = c0 + sum_j w_j u_j with w = q * step quantized to int8 per query (its own scale sw)
 * and c0 = q . lo (+ sum w / 2). The integer sum is exact; only w's rounding costs accuracy. */
static size_t cal_query_size(const vec_codec *c) { return VEC_SCORE_HDR + vec_score_pad64(c->d); }

static void cal_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  int8_t *wc = (int8_t *)(h + VEC_SCORE_HDR);
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
  float sw = (float)(m / 127.0);
  if (m > 0.0)
    for (size_t j = 0; j < d; j++) {
      /* Round half to even by hand: nearbyint would follow the caller's rounding mode. */
      double x = (double)q[j] * c->step[j] * (127.0 / m), v = floor(x), f = x - v;
      v += (f > 0.5) | ((f == 0.5) & (fmod(v, 2.0) != 0.0));
      wc[j] = (int8_t)(v > 127.0 ? 127 : v < -127.0 ? -127 : v);
    }
  float c0f = (float)c0;
  memcpy(h, &sw, sizeof sw);
  memcpy(h + 4, &c0f, sizeof c0f);
}

static void cal_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                      const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  (void)err;
  unsigned flip = c->ops->id == VEC_CODEC_INT8_CAL ? 0x80u : 0u; /* int8 level = byte ^ 0x80 */
  vec_score_pick_u8(c->d)(qs, VEC_QSTRIDE(c), nq, codes, nr, c->d, flip, ip, ldo);
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

static void lb_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)scales;
  (void)flags;
  size_t d = c->d, cs = lb_code_size(c);
  unsigned bits = lb_bits(c);
  for (size_t i = 0; i < n; i++) {
    const uint8_t *q = codes + i * cs;
    float *o = out + i * ldo;
    for (size_t j = 0; j < d; j++) {
      float p = (float)lb_get(q, j, bits, cs) * c->step[j]; /* never fused */
      o[j] = c->lo[j] + p;
    }
  }
}

/* Rows unpacked per call of the uint8 kernel: the scratch is at most this many bytes. */
#define LB_TILE_BYTES 16384

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
      const uint8_t *h = (const uint8_t *)qs + j * stride;
      const int8_t *w = (const int8_t *)(h + VEC_SCORE_HDR);
      float sw = vec_score_hdr_f32(h), c0 = vec_score_hdr_f32(h + 4);
      for (size_t r = 0; r < nr; r++) {
        const uint8_t *q = codes + r * cs;
        int64_t dot = 0;
        for (size_t k = 0; k < d; k++) dot += (int64_t)w[k] * lb_get(q, k, bits, cs);
        ip[j * ldo + r] = vec_score_u8_out(c0, sw, dot);
      }
    }
    return;
  }
  vec_score_u8_fn kern = vec_score_pick_u8(d);
  size_t rows = LB_TILE_BYTES / d;
  for (size_t r0 = 0; r0 < nr; r0 += rows) {
    size_t m = nr - r0 < rows ? nr - r0 : rows;
    for (size_t r = 0; r < m; r++) {
      const uint8_t *q = codes + (r0 + r) * cs;
      uint8_t *t = tile + r * d;
      if (bits == 4) {
        for (size_t k = 0; k + 1 < d; k += 2) {
          t[k] = q[k >> 1] & 15u;
          t[k + 1] = q[k >> 1] >> 4;
        }
        if (d & 1) t[d - 1] = q[d >> 1] & 15u;
      } else {
        for (size_t k = 0; k < d; k++) t[k] = (uint8_t)lb_get(q, k, bits, cs);
      }
    }
    kern(qs, stride, nq, tile, m, d, 0u, ip + r0, ldo);
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
