/* score_neon.c: AArch64 NEON scoring kernels: baseline instructions, plus int8 and int4 by SDOT
 * where the core has it (detected at run time: i8_dot, i4_dot); else int8 by widening multiplies
 * (vmull_s8, exact in int16 since |q|, |x| <= 127) and pairwise accumulation into int32; binary by
 * vcntq_u8; f16/bf16 (and int16) by widening conversions and fused multiply-adds; int4 and the
 * calibrated codes by widening multiply-accumulates. Row tails use an overlapping
 * last vector with the already-counted lanes zeroed, or a zeroed copy for rows under 16 bytes. */
#include <arm_neon.h>

#include "half_kernels.h"
#include "score_kernels.h"

#define INLINE static inline __attribute__((always_inline))

INLINE uint8x16_t tail16(const uint8_t *row, size_t len) {
  if (len >= 16) return vld1q_u8(row + len - 16);
  uint8_t buf[16] = {0};
  memcpy(buf, row, len);
  return vld1q_u8(buf);
}

INLINE int32x4_t i8_step(int32x4_t acc, int8x16_t q, int8x16_t x) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(q), vget_low_s8(x)));
  return vpadalq_s16(acc, vmull_high_s8(q, x));
}

INLINE void i8_block(int R, const int8_t *q, int8x16_t qt, const int8_t *x, size_t d, size_t d16,
                     int tail, int32_t *out) {
  int32x4_t acc[4];
  for (int r = 0; r < R; r++) acc[r] = vdupq_n_s32(0);
  for (size_t j = 0; j < d16; j += 16) {
    int8x16_t qv = vld1q_s8(q + j);
    for (int r = 0; r < R; r++) acc[r] = i8_step(acc[r], qv, vld1q_s8(x + r * d + j));
  }
  if (tail)
    for (int r = 0; r < R; r++)
      acc[r] = i8_step(acc[r], qt, vreinterpretq_s8_u8(tail16((const uint8_t *)(x + r * d), d)));
  for (int r = 0; r < R; r++) out[r] = vaddvq_s32(acc[r]);
}

static void score_i8_neon(const uint8_t *qs, size_t qstride, size_t nq, const int8_t *codes,
                          const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  size_t d16 = d & ~(size_t)15;
  int tail = d16 < d;
  uint8_t keep[16];
  for (int i = 0; i < 16; i++) keep[i] = d < 16 || (d - 16 + (size_t)i) >= d16 ? 0xff : 0;
  const uint8x16_t km = vld1q_u8(keep);
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    const int8_t *q = (const int8_t *)(h + VEC_SCORE_HDR);
    float sq = vec_score_hdr_f32(h);
    int8x16_t qt =
        vreinterpretq_s8_u8(vandq_u8(vld1q_u8((const uint8_t *)q + (d >= 16 ? d - 16 : 0)), km));
    size_t r = 0;
    int32_t out[4];
    for (; r + 4 <= nr; r += 4) {
      i8_block(4, q, qt, codes + r * d, d, d16, tail, out);
      for (size_t k = 0; k < 4; k++)
        ip[j * ldo + r + k] = vec_score_i8_out(sq, scales[r + k], out[k]);
    }
    for (; r < nr; r++) {
      i8_block(1, q, qt, codes + r * d, d, d16, tail, out);
      ip[j * ldo + r] = vec_score_i8_out(sq, scales[r], out[0]);
    }
  }
}

/* ---- int8 by SDOT (Armv8.2 dotprod, detected at run time): s8 x s8 in four-byte groups straight
 * into int32 lanes, no widening. Blocks of 4 rows x 4 queries, 16 accumulators: each loaded row
 * chunk serves 4 queries and each query chunk 4 rows; one vaddvq a pair at the end (384 dims:
 * 24 SDOT a pair). Integer sums, so the same bits as the scalar kernel in any order. ---- */
/* Armv8.2-A as GCC 12's arm_neon.h declares vdotq_s32 (a core with SDOT implements 8.2 at least).
 */
#define DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

INLINE DOTPROD void i8_dot_block(int R, int Q, const int8_t *const *q, const int8x16_t *qt,
                                 const int8_t *x, size_t d, size_t d16, int tail,
                                 int32_t out[4][4]) {
  int32x4_t acc[4][4];
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) acc[a][r] = vdupq_n_s32(0);
  for (size_t j = 0; j < d16; j += 16) {
    int8x16_t xv[4];
    for (int r = 0; r < R; r++) xv[r] = vld1q_s8(x + (size_t)r * d + j);
    for (int a = 0; a < Q; a++) {
      int8x16_t qv = vld1q_s8(q[a] + j);
      for (int r = 0; r < R; r++) acc[a][r] = vdotq_s32(acc[a][r], qv, xv[r]);
    }
  }
  if (tail) {
    int8x16_t xv[4];
    for (int r = 0; r < R; r++)
      xv[r] = vreinterpretq_s8_u8(tail16((const uint8_t *)(x + (size_t)r * d), d));
    for (int a = 0; a < Q; a++)
      for (int r = 0; r < R; r++) acc[a][r] = vdotq_s32(acc[a][r], qt[a], xv[r]);
  }
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) out[a][r] = vaddvq_s32(acc[a][r]);
}

static DOTPROD void vec_score_i8_tile_neon(const uint8_t *qs, size_t qstride, size_t nq,
                                           const int8_t *codes, const float *scales, size_t nr,
                                           size_t d, float *ip, size_t ldo) {
  size_t d16 = d & ~(size_t)15;
  int tail = d16 < d;
  /* The overlapping tail vector's lanes the full vectors already counted: zero in the query. */
  uint8_t keep[16];
  for (int i = 0; i < 16; i++) keep[i] = d < 16 || (d - 16 + (size_t)i) >= d16 ? 0xff : 0;
  const uint8x16_t km = vld1q_u8(keep);
  for (size_t j0 = 0; j0 < nq; j0 += 4) {
    int Q = nq - j0 >= 4 ? 4 : (int)(nq - j0);
    const int8_t *q[4];
    int8x16_t qt[4];
    float sq[4];
    for (int a = 0; a < Q; a++) {
      const uint8_t *h = qs + (j0 + (size_t)a) * qstride;
      q[a] = (const int8_t *)(h + VEC_SCORE_HDR);
      sq[a] = vec_score_hdr_f32(h);
      qt[a] = vreinterpretq_s8_u8(
          vandq_u8(vld1q_u8((const uint8_t *)q[a] + (d >= 16 ? d - 16 : 0)), km));
    }
    int32_t out[4][4];
    for (size_t r = 0; r < nr; r += 4) {
      size_t R = nr - r >= 4 ? 4 : nr - r;
      const int8_t *x = codes + r * d;
      /* R and Q constants in each call, so the accumulators stay in registers. */
      if (R == 4 && Q == 4)
        i8_dot_block(4, 4, q, qt, x, d, d16, tail, out);
      else
        for (int a = 0; a < Q; a++)
          for (size_t k = 0; k < R; k++) {
            int32_t o1[4][4];
            i8_dot_block(1, 1, q + a, qt + a, x + k * d, d, d16, tail, o1);
            out[a][k] = o1[0][0];
          }
      for (int a = 0; a < Q; a++)
        for (size_t k = 0; k < R; k++)
          ip[(j0 + (size_t)a) * ldo + r + k] = vec_score_i8_out(sq[a], scales[r + k], out[a][k]);
    }
  }
}

INLINE void b1_block(int R, const uint8_t *q, uint8x16_t qt, uint8x16_t tm, const uint8_t *x,
                     size_t nb, size_t cf, uint64_t *out) {
  uint16x8_t acc[4];
  uint64_t tot[4] = {0};
  for (int r = 0; r < R; r++) acc[r] = vdupq_n_u16(0);
  /* Byte counts (<= 8) widen into 16-bit lanes: safe for 4096 chunks; flushed well before that. */
  size_t n = 0;
  for (size_t j = 0; j < cf; j += 16) {
    uint8x16_t qv = vld1q_u8(q + j);
    for (int r = 0; r < R; r++)
      acc[r] = vpadalq_u8(acc[r], vcntq_u8(veorq_u8(qv, vld1q_u8(x + r * nb + j))));
    if (++n == 2048) {
      for (int r = 0; r < R; r++) tot[r] += vaddlvq_u16(acc[r]), acc[r] = vdupq_n_u16(0);
      n = 0;
    }
  }
  for (int r = 0; r < R; r++) {
    uint8x16_t v = vandq_u8(veorq_u8(qt, tail16(x + r * nb, nb)), tm);
    acc[r] = vpadalq_u8(acc[r], vcntq_u8(v));
    out[r] = tot[r] + vaddlvq_u16(acc[r]);
  }
}

static void score_b1_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                          size_t nr, size_t d, float *ip, size_t ldo) {
  size_t nb = (d + 7) / 8, cf = (nb - 1) / 16 * 16, base = nb >= 16 ? nb - 16 : 0;
  uint8_t keep[16];
  for (size_t i = 0; i < 16; i++) {
    size_t pos = base + i;
    keep[i] = pos < cf || pos >= nb ? 0 : pos == nb - 1 ? vec_score_b1_lastmask(d) : 0xff;
  }
  const uint8x16_t tm = vld1q_u8(keep);
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride, *q = h + VEC_SCORE_HDR;
    float mq = vec_score_hdr_f32(h);
    uint8x16_t qt = vld1q_u8(q + base);
    size_t r = 0;
    uint64_t out[4];
    for (; r + 4 <= nr; r += 4) {
      b1_block(4, q, qt, tm, codes + r * nb, nb, cf, out);
      for (size_t k = 0; k < 4; k++) ip[j * ldo + r + k] = vec_score_b1_out(mq, d, out[k]);
    }
    for (; r < nr; r++) {
      b1_block(1, q, qt, tm, codes + r * nb, nb, cf, out);
      ip[j * ldo + r] = vec_score_b1_out(mq, d, out[0]);
    }
  }
}

/* bf16: 0 f16, 1 bf16, 2 int16. */
INLINE float32x4_t h4(uint16x4_t c, int bf16) {
  if (bf16 == 2) return vcvtq_f32_s32(vmovl_s16(vreinterpret_s16_u16(c)));
  if (bf16) return vreinterpretq_f32_u32(vshll_n_u16(c, 16));
  return vcvt_f32_f16(vreinterpret_f16_u16(c));
}

/* 16 dims per step, four 4-lane accumulators, reduced in a fixed tree. */
INLINE void h_step(float32x4_t *a, const float *q, const uint8_t *p, int bf16) {
  uint16x8_t c0 = vreinterpretq_u16_u8(vld1q_u8(p)), c1 = vreinterpretq_u16_u8(vld1q_u8(p + 16));
  a[0] = vfmaq_f32(a[0], vld1q_f32(q), h4(vget_low_u16(c0), bf16));
  a[1] = vfmaq_f32(a[1], vld1q_f32(q + 4), h4(vget_high_u16(c0), bf16));
  a[2] = vfmaq_f32(a[2], vld1q_f32(q + 8), h4(vget_low_u16(c1), bf16));
  a[3] = vfmaq_f32(a[3], vld1q_f32(q + 12), h4(vget_high_u16(c1), bf16));
}

INLINE float h_row(const float *q, const uint8_t *x, size_t d, int bf16) {
  size_t d16 = d & ~(size_t)15;
  float32x4_t a[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  for (size_t j = 0; j < d16; j += 16) h_step(a, q + j, x + 2 * j, bf16);
  if (d16 < d) {
    uint8_t buf[32] = {0};
    memcpy(buf, x + 2 * d16, 2 * (d - d16));
    h_step(a, q + d16, buf, bf16); /* the query is zero-padded */
  }
  float32x4_t s = vaddq_f32(vaddq_f32(a[0], a[1]), vaddq_f32(a[2], a[3]));
  float32x2_t t = vadd_f32(vget_low_f32(s), vget_high_f32(s));
  return vget_lane_f32(t, 0) + vget_lane_f32(t, 1);
}

INLINE void score_h(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes, size_t nr,
                    size_t d, float *ip, size_t ldo, int bf16) {
  for (size_t j = 0; j < nq; j++) {
    const float *q = (const float *)(const void *)(qs + j * qstride + VEC_SCORE_HDR);
    for (size_t r = 0; r < nr; r++) ip[j * ldo + r] = h_row(q, codes + r * 2 * d, d, bf16);
  }
}

static void score_f16_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                           size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, nr, d, ip, ldo, 0);
}
static void score_bf16_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, nr, d, ip, ldo, 1);
}

static void score_i16_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                           const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, nr, d, ip, ldo, 2);
  for (size_t j = 0; j < nq; j++)
    for (size_t r = 0; r < nr; r++) ip[j * ldo + r] = vec_score_i16_out(scales[r], ip[j * ldo + r]);
}

/* ---- int4, any group size: per group, 16 code bytes at a time split into sign-extended nibbles
 * (shift left then arithmetic right), widening multiplies against the query's even and odd halves
 * (exact in int16: 7 * 127) with pairwise sums into int32, or SDOT (score_i4_neondot), one
 * across-vector add a group; up to 4
 * queries share each row's nibbles. The float epilogue is the scalar one, so the same bits. ---- */
INLINE int32x4_t i4_mul(int32x4_t acc, int8x8_t q, int8x8_t x) {
  return vpadalq_s16(acc, vmull_s8(q, x));
}

#define I4_NEON_KERNELS(SFX, ATTR, STEP16)                                                         \
  INLINE ATTR void i4_row##SFX(int Q, const int8_t *const *qe, const int8_t *const *qo,            \
                               const float *sq, const uint8_t *c, const float *s, size_t nb,       \
                               size_t g, size_t ng, float *out) {                                  \
    float acc[4] = {0, 0, 0, 0};                                                                   \
    for (size_t gi = 0; gi < ng; gi++) {                                                           \
      size_t b0 = gi * g / 2, b1 = gi + 1 == ng ? nb : (gi + 1) * g / 2, k = b0;                   \
      int32x4_t v[4];                                                                              \
      for (int a = 0; a < Q; a++) v[a] = vdupq_n_s32(0);                                           \
      for (; k + 16 <= b1; k += 16) {                                                              \
        int8x16_t x = vreinterpretq_s8_u8(vld1q_u8(c + k));                                        \
        int8x16_t lo = vshrq_n_s8(vshlq_n_s8(x, 4), 4), hi = vshrq_n_s8(x, 4);                     \
        for (int a = 0; a < Q; a++)                                                                \
          STEP16(v[a], vld1q_s8(qe[a] + k), vld1q_s8(qo[a] + k), lo, hi);                          \
      }                                                                                            \
      for (; k + 8 <= b1; k += 8) {                                                                \
        int8x8_t x = vreinterpret_s8_u8(vld1_u8(c + k));                                           \
        int8x8_t lo = vshr_n_s8(vshl_n_s8(x, 4), 4), hi = vshr_n_s8(x, 4);                         \
        for (int a = 0; a < Q; a++) {                                                              \
          v[a] = i4_mul(v[a], vld1_s8(qe[a] + k), lo);                                             \
          v[a] = i4_mul(v[a], vld1_s8(qo[a] + k), hi);                                             \
        }                                                                                          \
      }                                                                                            \
      for (int a = 0; a < Q; a++) {                                                                \
        int32_t dot = vaddvq_s32(v[a]);                                                            \
        for (size_t kk = k; kk < b1; kk++)                                                         \
          dot += (int32_t)qe[a][kk] * vec_score_nib(c[kk]) +                                       \
                 (int32_t)qo[a][kk] * vec_score_nib(c[kk] >> 4);                                   \
        /* The first term is taken as it is (0.0f + -0.0f would lose a sign), as in the scalar     \
         * one. */                                                                                 \
        acc[a] = gi == 0 ? s[0] * (float)dot : acc[a] + s[gi] * (float)dot;                        \
      }                                                                                            \
    }                                                                                              \
    for (int a = 0; a < Q; a++) out[a] = sq[a] * acc[a];                                           \
  }                                                                                                \
                                                                                                   \
  static ATTR void score_i4_neon##SFX(const uint8_t *qs, size_t qstride, size_t nq,                \
                                      const uint8_t *codes, const float *scales, size_t nr,        \
                                      size_t d, size_t g, float *ip, size_t ldo) {                 \
    size_t nb = (d + 1) / 2, ng = (d + g - 1) / g, half = vec_score_pad64(nb);                     \
    for (size_t j = 0; j < nq; j += 4) {                                                           \
      int Q = nq - j >= 4 ? 4 : (int)(nq - j);                                                     \
      const int8_t *qe[4], *qo[4];                                                                 \
      float sq[4], out[4];                                                                         \
      for (int a = 0; a < Q; a++) {                                                                \
        const uint8_t *h = qs + (j + (size_t)a) * qstride;                                         \
        sq[a] = vec_score_hdr_f32(h);                                                              \
        qe[a] = (const int8_t *)(h + VEC_SCORE_HDR);                                               \
        qo[a] = qe[a] + half;                                                                      \
      }                                                                                            \
      for (size_t r = 0; r < nr; r++) {                                                            \
        const uint8_t *c = codes + r * nb;                                                         \
        const float *s = scales + r * ng;                                                          \
        switch (Q) {                                                                               \
        case 4: i4_row##SFX(4, qe, qo, sq, c, s, nb, g, ng, out); break;                           \
        case 3: i4_row##SFX(3, qe, qo, sq, c, s, nb, g, ng, out); break;                           \
        case 2: i4_row##SFX(2, qe, qo, sq, c, s, nb, g, ng, out); break;                           \
        default: i4_row##SFX(1, qe, qo, sq, c, s, nb, g, ng, out); break;                          \
        }                                                                                          \
        for (int a = 0; a < Q; a++) ip[(j + (size_t)a) * ldo + r] = out[a];                        \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
  /* end of I4_NEON_KERNELS */

/* Widening multiplies (baseline NEON), or SDOT where the core has it: s8 x s8 in groups of four
 * straight into int32 lanes (the same integer sums). */
#define I4_STEP_MULL(v, e, o, lo, hi)                                                              \
  do {                                                                                             \
    v = i4_mul(v, vget_low_s8(e), vget_low_s8(lo));                                                \
    v = i4_mul(v, vget_high_s8(e), vget_high_s8(lo));                                              \
    v = i4_mul(v, vget_low_s8(o), vget_low_s8(hi));                                                \
    v = i4_mul(v, vget_high_s8(o), vget_high_s8(hi));                                              \
  } while (0)
#define I4_STEP_SDOT(v, e, o, lo, hi) (v = vdotq_s32(vdotq_s32(v, e, lo), o, hi))
#define NO_ATTR
I4_NEON_KERNELS(, NO_ATTR, I4_STEP_MULL)
I4_NEON_KERNELS(dot, DOTPROD, I4_STEP_SDOT)

/* ---- calibrated: levels (x ^ flip, 0..255) and int8 weights widened to int16, then widening
 * multiply-accumulates into int32 (exact for d <= VEC_SCORE_U8_MAX_D); rows one after the other,
 * up to 4 queries sharing each widened row chunk. The tail goes through a zeroed buffer (the
 * weights past d are zero, so the flipped zero bytes add nothing). ---- */
INLINE int32x4_t u8_mac(int32x4_t acc, int16x8_t w, int16x8_t x) {
  acc = vmlal_s16(acc, vget_low_s16(w), vget_low_s16(x));
  return vmlal_high_s16(acc, w, x);
}

INLINE void u8_row(int Q, const int8_t *const *w, const uint8_t *x, size_t d, uint8x16_t fl,
                   int32_t *out) {
  int32x4_t acc[4];
  for (int a = 0; a < Q; a++) acc[a] = vdupq_n_s32(0);
  for (size_t j = 0; j < d; j += 16) {
    uint8x16_t c;
    if (j + 16 <= d) {
      c = vld1q_u8(x + j);
    } else {
      uint8_t buf[16] = {0};
      memcpy(buf, x + j, d - j);
      c = vld1q_u8(buf);
    }
    c = veorq_u8(c, fl);
    int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(c)));
    int16x8_t xh = vreinterpretq_s16_u16(vmovl_high_u8(c));
    for (int a = 0; a < Q; a++) {
      int8x16_t wv = vld1q_s8(w[a] + j);
      acc[a] = u8_mac(acc[a], vmovl_s8(vget_low_s8(wv)), xl);
      acc[a] = u8_mac(acc[a], vmovl_high_s8(wv), xh);
    }
  }
  for (int a = 0; a < Q; a++) out[a] = vaddvq_s32(acc[a]);
}

static void score_u8_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                          size_t nr, size_t d, unsigned flip, float *ip, size_t ldo) {
  const uint8x16_t fl = vdupq_n_u8((uint8_t)flip);
  for (size_t j = 0; j < nq; j += 4) {
    int Q = nq - j >= 4 ? 4 : (int)(nq - j);
    const int8_t *w[4];
    for (int a = 0; a < Q; a++)
      w[a] = (const int8_t *)(qs + (j + (size_t)a) * qstride + VEC_SCORE_HDR);
    for (size_t r = 0; r < nr; r++) {
      int32_t out[4];
      switch (Q) {
      case 4: u8_row(4, w, codes + r * d, d, fl, out); break;
      case 3: u8_row(3, w, codes + r * d, d, fl, out); break;
      case 2: u8_row(2, w, codes + r * d, d, fl, out); break;
      default: u8_row(1, w, codes + r * d, d, fl, out); break;
      }
      for (int a = 0; a < Q; a++) {
        const uint8_t *h = qs + (j + (size_t)a) * qstride;
        ip[(j + (size_t)a) * ldo + r] =
            vec_score_u8_out(vec_score_hdr_f32(h + 4), vec_score_hdr_f32(h), out[a]);
      }
    }
  }
}

const vec_score_kernels vec_score_table_neon = {.i8 = score_i8_neon,
                                                .i8_dot = vec_score_i8_tile_neon,
                                                .b1 = score_b1_neon,
                                                .f16 = score_f16_neon,
                                                .bf16 = score_bf16_neon,
                                                .i16 = score_i16_neon,
                                                .i4 = score_i4_neon,
                                                .i4_dot = score_i4_neondot,
                                                .u8 = score_u8_neon};
