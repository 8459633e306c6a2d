/* neon.c: AArch64 Advanced SIMD kernels (NEON is architectural on AArch64, so always usable).
 * vcvtnq_s32_f32 rounds to nearest with ties to even whatever FPCR says, matching the scalar code.
 */
#include <arm_neon.h>

#include "int8_row.h"
#include "kernels.h"

static inline uint32_t amax_bits_neon(const float *row, size_t d) { /* d >= 4 */
  const uint32x4_t mask = vdupq_n_u32(VEC_ABS_MASK);
  uint32x4_t m0 = vdupq_n_u32(0), m1 = m0, m2 = m0, m3 = m0;
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j)), mask));
    m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j + 4)), mask));
    m2 = vmaxq_u32(m2, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j + 8)), mask));
    m3 = vmaxq_u32(m3, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j + 12)), mask));
  }
  for (; j + 4 <= d; j += 4)
    m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j)), mask));
  if (j < d) m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + d - 4)), mask));
  return vmaxvq_u32(vmaxq_u32(vmaxq_u32(m0, m1), vmaxq_u32(m2, m3)));
}

static inline int16x8_t q16x8(const float *p, float32x4_t inv) {
  int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p), inv));
  int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(p + 4), inv));
  return vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
}

static inline int8x16_t q8x16(const float *p, float32x4_t inv) {
  return vcombine_s8(vqmovn_s16(q16x8(p, inv)), vqmovn_s16(q16x8(p + 8, inv)));
}

size_t vec_int8_encode_neon(const float *x, size_t n, size_t d, size_t ldx, int8_t *q, size_t ldq,
                            float *scales, unsigned flags) {
  if (d < 16) return vec_int8_encode_scalar(x, n, d, ldx, q, ldq, scales, flags);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    int8_t *qr = q + i * ldq;
    uint32_t amax = amax_bits_neon(row, d);
    int kind = vec_int8_row_kind(amax);
    if (kind == VEC_ROW_NONFINITE) return i;
    if (kind == VEC_ROW_ZERO) {
      memset(qr, 0, d);
      scales[i] = 0.0f;
      continue;
    }
    if (kind == VEC_ROW_TINY) {
      vec_int8_encode_tiny_row(row, d, amax, qr, &scales[i]);
      continue;
    }
    float m = vec_u2f(amax);
    const float32x4_t inv = vdupq_n_f32(127.0f / m);
    scales[i] = vec_int8_scale(m);
    size_t j = 0;
    for (; j + 16 <= d; j += 16) vst1q_s8(qr + j, q8x16(row + j, inv));
    if (j < d) vst1q_s8(qr + d - 16, q8x16(row + d - 16, inv));
  }
  return n;
}

static inline float32x4_t dq4(int16x4_t v, float32x4_t s) {
  return vmulq_f32(vcvtq_f32_s32(vmovl_s16(v)), s);
}

void vec_int8_decode_neon(const int8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                          float *out, size_t ldo, unsigned flags) {
  if (d < 16) {
    vec_int8_decode_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const int8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const float32x4_t s = vdupq_n_f32(scales[i]);
    size_t j = 0;
    for (;;) {
      if (j + 16 > d) {
        if (j == d) break;
        j = d - 16; /* overlapping last block */
      }
      int8x16_t v = vld1q_s8(qr + j);
      int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_s8(vget_high_s8(v));
      vst1q_f32(o + j, dq4(vget_low_s16(lo), s));
      vst1q_f32(o + j + 4, dq4(vget_high_s16(lo), s));
      vst1q_f32(o + j + 8, dq4(vget_low_s16(hi), s));
      vst1q_f32(o + j + 12, dq4(vget_high_s16(hi), s));
      j += 16;
    }
  }
}
