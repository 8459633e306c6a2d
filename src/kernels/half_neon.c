/* half_neon.c: AArch64 Advanced SIMD kernels for f16 and bf16 (NEON is architectural there).
 * Tails overlap the last vector; rows shorter than 8 go to the scalar reference. */
#include <arm_neon.h>

#include "half_kernels.h"

static inline uint32x4_t abs_bits(uint32x4_t u) { return vandq_u32(u, vdupq_n_u32(0x7fffffffu)); }

/* 8 floats -> 8 half codes (FCVTN/FCVTN2). These follow FPCR's rounding mode, round to nearest
 * even by default (and as every OS starts a thread); FPCR.AHP must be 0 (IEEE half, the default).
 * FPCR.FZ would only touch float32 subnormals, which become +-0 anyway. Codes are loaded and
 * stored as bytes because q has no uint16 alignment. */
static inline uint8x16_t f16x8(const float *p, uint32x4_t *mx) {
  float32x4_t a = vld1q_f32(p), b = vld1q_f32(p + 4);
  *mx = vmaxq_u32(
      *mx, vmaxq_u32(abs_bits(vreinterpretq_u32_f32(a)), abs_bits(vreinterpretq_u32_f32(b))));
  return vreinterpretq_u8_f16(vcvt_high_f16_f32(vcvt_f16_f32(a), b));
}

/* 4 floats -> 4 bfloat16 codes: ADDHN keeps the high halves of u + 0x7fff + lsb in one step. */
static inline uint16x4_t bf16x4(uint32x4_t u) {
  uint32x4_t bias = vaddq_u32(vdupq_n_u32(0x7fffu), vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1)));
  return vaddhn_u32(u, bias);
}
static inline uint8x16_t bf16x8(const float *p, uint32x4_t *mx) {
  uint32x4_t a = vreinterpretq_u32_f32(vld1q_f32(p)), b = vreinterpretq_u32_f32(vld1q_f32(p + 4));
  *mx = vmaxq_u32(*mx, vmaxq_u32(abs_bits(a), abs_bits(b)));
  return vreinterpretq_u8_u16(vcombine_u16(bf16x4(a), bf16x4(b)));
}

#define DEFINE_ENCODE(name, CONV8, RANGE, SCALAR)                                                  \
  size_t name(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q, unsigned flags,          \
              int *rc) {                                                                           \
    if (d < 8) return SCALAR(x, n, d, ldx, q, flags, rc);                                          \
    for (size_t i = 0; i < n; i++) {                                                               \
      const float *row = x + i * ldx;                                                              \
      uint8_t *qr = q + 2 * i * d;                                                                 \
      uint32x4_t m0 = vdupq_n_u32(0), m1 = m0;                                                     \
      size_t j = 0;                                                                                \
      for (; j + 16 <= d; j += 16) {                                                               \
        vst1q_u8(qr + 2 * j, CONV8(row + j, &m0));                                                 \
        vst1q_u8(qr + 2 * j + 16, CONV8(row + j + 8, &m1));                                        \
      }                                                                                            \
      for (; j + 8 <= d; j += 8) vst1q_u8(qr + 2 * j, CONV8(row + j, &m0));                        \
      if (j < d) vst1q_u8(qr + 2 * (d - 8), CONV8(row + d - 8, &m1));                              \
      int r = vec_half_row_rc(vmaxvq_u32(vmaxq_u32(m0, m1)), RANGE);                               \
      if (VEC_UNLIKELY(r != VEC_OK)) {                                                             \
        *rc = r;                                                                                   \
        return i;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    return n;                                                                                      \
  }

DEFINE_ENCODE(vec_half_encode_f16_neon, f16x8, VEC_F16_RANGE, vec_half_encode_f16_scalar)

DEFINE_ENCODE(vec_half_encode_bf16_neon, bf16x8, VEC_BF16_RANGE, vec_half_encode_bf16_scalar)

/* 8 codes -> 8 floats into o. FCVTL is exact and quiets signalling NaNs (FPCR.DN = 0, the
 * default, keeps the payload), as the scalar decoder does. */
static inline void f16dec8(const uint8_t *p, float *o) {
  float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
  vst1q_f32(o, vcvt_f32_f16(vget_low_f16(h)));
  vst1q_f32(o + 4, vcvt_high_f32_f16(h));
}
static inline void bf16dec8(const uint8_t *p, float *o) {
  uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(p));
  vst1q_f32(o, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
  vst1q_f32(o + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
}

#define DEFINE_DECODE(name, DEC8, SCALAR)                                                          \
  void name(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo, unsigned flags) {        \
    if (d < 8) {                                                                                   \
      SCALAR(q, n, d, out, ldo, flags);                                                            \
      return;                                                                                      \
    }                                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const uint8_t *qr = q + 2 * i * d;                                                           \
      float *o = out + i * ldo;                                                                    \
      size_t j = 0;                                                                                \
      for (; j + 8 <= d; j += 8) DEC8(qr + 2 * j, o + j);                                          \
      if (j < d) DEC8(qr + 2 * (d - 8), o + d - 8);                                                \
    }                                                                                              \
  }

DEFINE_DECODE(vec_half_decode_f16_neon, f16dec8, vec_half_decode_f16_scalar)

DEFINE_DECODE(vec_half_decode_bf16_neon, bf16dec8, vec_half_decode_bf16_scalar)
