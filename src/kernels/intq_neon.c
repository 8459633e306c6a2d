/* intq_neon.c: AArch64 Advanced SIMD kernels of the int16 and int4 codecs. vcvtnq_s32_f32 rounds
 * half to even whatever FPCR says, matching the scalar code; tails overlap as in neon.c. */
#include <arm_neon.h>

#include "intq_kernels.h"

static inline uint32x4_t abs_bits(const float *p) {
  return vandq_u32(vreinterpretq_u32_f32(vld1q_f32(p)), vdupq_n_u32(VEC_ABS_MASK));
}

static inline uint32_t amax_bits_neon(const float *row, size_t d) { /* d >= 4 */
  uint32x4_t m0 = vdupq_n_u32(0), m1 = m0, m2 = m0, m3 = m0;
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    m0 = vmaxq_u32(m0, abs_bits(row + j));
    m1 = vmaxq_u32(m1, abs_bits(row + j + 4));
    m2 = vmaxq_u32(m2, abs_bits(row + j + 8));
    m3 = vmaxq_u32(m3, abs_bits(row + j + 12));
  }
  for (; j + 4 <= d; j += 4) m0 = vmaxq_u32(m0, abs_bits(row + j));
  if (j < d) m1 = vmaxq_u32(m1, abs_bits(row + d - 4));
  return vmaxvq_u32(vmaxq_u32(vmaxq_u32(m0, m1), vmaxq_u32(m2, m3)));
}

/* |x*inv| <= L(1 + 2^-22) (see intq_avx2.c): the saturating narrows below never clip. */
static inline int16x8_t q16x8(const float *p, float32x4_t inv) {
  int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p), inv));
  int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p + 4), inv));
  return vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
}

/* ---- int16 ---- */

size_t vec_intq_encode_i16_neon(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                size_t ldq, float *scales, unsigned flags) {
  if (d < 16) return vec_intq_encode_i16_scalar(x, n, d, ldx, q, ldq, scales, flags);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * ldq;
    uint32_t amax = amax_bits_neon(row, d);
    float m = vec_u2f(amax);
    int kind = vec_int8_row_kind(amax);
    if (kind == VEC_ROW_NONFINITE) return i;
    if (kind == VEC_ROW_ZERO) {
      memset(qr, 0, 2 * d);
      scales[i] = 0.0f;
      continue;
    }
    scales[i] = vec_intq_scale(m, (float)VEC_I16_L);
    if (kind == VEC_ROW_TINY) {
      vec_intq_quant_i16_scalar(row, 0, d, 0x1p96f, (float)VEC_I16_L / (m * 0x1p96f), qr);
      continue;
    }
    const float32x4_t inv = vdupq_n_f32((float)VEC_I16_L / m);
    size_t j = 0;
    for (;;) {
      if (j + 16 > d) {
        if (j == d) break;
        j = d - 16; /* overlapping last block */
      }
      /* byte stores: qr has no alignment, and vst1q_u8 is as fast as vst1q_s16 */
      vst1q_u8(qr + 2 * j, vreinterpretq_u8_s16(q16x8(row + j, inv)));
      vst1q_u8(qr + 2 * j + 16, vreinterpretq_u8_s16(q16x8(row + j + 8, inv)));
      j += 16;
    }
  }
  return n;
}

static inline float32x4_t dq4(int16x4_t v, float32x4_t s) {
  return vmulq_f32(vcvtq_f32_s32(vmovl_s16(v)), s);
}

void vec_intq_decode_i16_neon(const uint8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                              float *out, size_t ldo, unsigned flags) {
  if (d < 8) {
    vec_intq_decode_i16_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const float32x4_t s = vdupq_n_f32(scales[i]);
    size_t j = 0;
    for (;;) {
      if (j + 8 > d) {
        if (j == d) break;
        j = d - 8;
      }
      int16x8_t v = vreinterpretq_s16_u8(vld1q_u8(qr + 2 * j));
      vst1q_f32(o + j, dq4(vget_low_s16(v), s));
      vst1q_f32(o + j + 4, dq4(vget_high_s16(v), s));
      j += 8;
    }
  }
}

/* ---- int4 ---- */

/* 32 floats -> 16 code bytes: even and odd elements unzipped, then one shift-left-and-insert
 * writes odd << 4 over the low nibble of even. */
static inline uint8x16_t q4_pack(int16x8_t q0, int16x8_t q1, int16x8_t q2, int16x8_t q3) {
  int8x16_t a = vcombine_s8(vqmovn_s16(q0), vqmovn_s16(q1));
  int8x16_t b = vcombine_s8(vqmovn_s16(q2), vqmovn_s16(q3));
  uint8x16_t even = vreinterpretq_u8_s8(vuzp1q_s8(a, b));
  uint8x16_t odd = vreinterpretq_u8_s8(vuzp2q_s8(a, b));
  return vsliq_n_u8(vandq_u8(even, vdupq_n_u8(0x0f)), odd, 4);
}

static inline uint8x16_t q4x32(const float *p, float32x4_t inv) {
  return q4_pack(q16x8(p, inv), q16x8(p + 8, inv), q16x8(p + 16, inv), q16x8(p + 24, inv));
}

/* The same with a multiplier per element (inv[0..32)). */
static inline int16x8_t q16x8v(const float *p, const float *inv) {
  int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p), vld1q_f32(inv)));
  int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p + 4), vld1q_f32(inv + 4)));
  return vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
}
static inline uint8x16_t q4x32v(const float *p, const float *inv) {
  return q4_pack(q16x8v(p, inv), q16x8v(p + 8, inv + 8), q16x8v(p + 16, inv + 16),
                 q16x8v(p + 24, inv + 24));
}

static inline void put16(uint8_t *p, uint8x16_t v, int stream) {
  (void)stream; /* no non-temporal stores here (I4_CAN_STREAM 0) */
  vst1q_u8(p, v);
}

static inline size_t enc4_wide(const float *x, size_t le, uint8_t *q, float32x4_t inv, int stream) {
  (void)x, (void)le, (void)q, (void)inv, (void)stream;
  return 0;
}

static inline void st4(float *o, int8x8_t v, const float32x4_t *s) {
  int16x8_t w = vmovl_s8(v);
  vst1q_f32(o, dq4(vget_low_s16(w), s[0]));
  vst1q_f32(o + 4, dq4(vget_high_s16(w), s[1]));
}

/* 16 bytes -> 32 floats: arithmetic shifts sign-extend each nibble; zip restores element order. */
static inline void dq4x32v(const uint8_t *p, const float32x4_t s[8], float *o) {
  int8x16_t b = vreinterpretq_s8_u8(vld1q_u8(p));
  int8x16_t lo = vshrq_n_s8(vshlq_n_s8(b, 4), 4), hi = vshrq_n_s8(b, 4);
  int8x16_t e0 = vzip1q_s8(lo, hi), e1 = vzip2q_s8(lo, hi);
  st4(o, vget_low_s8(e0), s);
  st4(o + 8, vget_high_s8(e0), s + 2);
  st4(o + 16, vget_low_s8(e1), s + 4);
  st4(o + 24, vget_high_s8(e1), s + 6);
}

static inline void dq4x32(const uint8_t *p, float32x4_t s, float *o) {
  const float32x4_t sv[8] = {s, s, s, s, s, s, s, s};
  dq4x32v(p, sv, o);
}

static inline void dq4_put(const uint8_t *p, float32x4_t s, float *o, int stream) {
  (void)stream;
  dq4x32(p, s, o);
}

static inline void dq4v_put(const uint8_t *p, const float *sb, float *o) {
  float32x4_t sv[8];
  for (int t = 0; t < 8; t++) sv[t] = vld1q_f32(sb + 4 * t);
  dq4x32v(p, sv, o);
}

#define I4_CAN_STREAM  0
#define I4_OUT_ALIGN   0
#define i4_vf          float32x4_t
#define i4_splat(f)    vdupq_n_f32(f)
#define i4_amax(x, n)  amax_bits_neon(x, n)
#define i4_sfence()    ((void)0)
#define VEC_ISA_SUFFIX neon
#include "intq_i4_tmpl.h"

/* A row in groups of 32, four at a time: maxima reduced pairwise into one vector, then one vector
 * division each for the four reciprocals and scales. */
static int enc4_row_g32(const float *row, size_t d, uint8_t *qr, float *sr, int stream) {
  const size_t G = d / 32;
  const float32x4_t L = vdupq_n_f32((float)VEC_I4_L);
  size_t k = 0;
  for (; k + 4 <= G; k += 4) {
    const float *p = row + 32 * k;
    uint32x4_t a[4];
    for (int t = 0; t < 4; t++) {
      const float *g = p + 32 * t;
      uint32x4_t m0 = vmaxq_u32(vmaxq_u32(abs_bits(g), abs_bits(g + 4)),
                                vmaxq_u32(abs_bits(g + 8), abs_bits(g + 12)));
      uint32x4_t m1 = vmaxq_u32(vmaxq_u32(abs_bits(g + 16), abs_bits(g + 20)),
                                vmaxq_u32(abs_bits(g + 24), abs_bits(g + 28)));
      a[t] = vmaxq_u32(m0, m1);
    }
    /* pairwise max of adjacent lanes twice: lane t of the result is group t's max */
    uint32x4_t am = vpmaxq_u32(vpmaxq_u32(a[0], a[1]), vpmaxq_u32(a[2], a[3]));
    if (vmaxvq_u32(am) >= VEC_NONFINITE_BITS) return 1;
    const uint32x4_t zero = vceqq_u32(am, vdupq_n_u32(0));
    const float32x4_t m = vreinterpretq_f32_u32(am);
    const float32x4_t s = vdivq_f32(m, L);
    const float32x4_t inv =
        vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vdivq_f32(L, m)), zero));
    vst1q_f32(sr + k, s);
    float invs[4];
    vst1q_f32(invs, inv);
    for (int t = 0; t < 4; t++)
      vst1q_u8(qr + 16 * (k + t), q4x32(p + 32 * t, vdupq_n_f32(invs[t])));
    /* no scale step-down needed for L = 7 (see intq_avx2.c); tiny groups redone in scalar */
    uint32x4_t tiny = vbicq_u32(vcltq_u32(am, vdupq_n_u32(VEC_TINY_BITS)), zero);
    if (VEC_UNLIKELY(vmaxvq_u32(tiny) != 0)) {
      uint32_t ams[4];
      vst1q_u32(ams, am);
      for (int t = 0; t < 4; t++)
        if (ams[t] != 0 && ams[t] < VEC_TINY_BITS)
          vec_intq_encode_i4_tiny_seg(p + 32 * t, 32, ams[t], qr + 16 * (k + t), sr + k + t);
    }
  }
  for (; k < G; k++)
    if (enc4_seg(row + 32 * k, 32, qr + 16 * k, sr + k, stream)) return 1;
  if (d > 32 * G) return enc4_seg(row + 32 * G, d - 32 * G, qr + 16 * G, sr + G, 0);
  return 0;
}
