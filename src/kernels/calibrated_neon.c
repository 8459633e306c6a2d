/* calibrated_neon.c: AArch64 Advanced SIMD kernels of the calibrated codecs. vcvtq_s32_f32
 * truncates and vcvtnq_s32_f32 rounds half to even, both whatever FPCR says, as the scalar code. */
#include <arm_neon.h>

#include "calibrated_kernels.h"

#define CAL_INLINE static inline __attribute__((always_inline))

/* 4 dimensions -> 4 codes as int32 (as cal8 in calibrated_avx2.c). */
CAL_INLINE int32x4_t cal4(const float *x, const float *lo, const float *st, unsigned mode,
                          uint32x4_t *bad) {
  float32x4_t xv = vld1q_f32(x), s = vld1q_f32(st);
  *bad = vmaxq_u32(*bad, vandq_u32(vreinterpretq_u32_f32(xv), vdupq_n_u32(VEC_CAL_ABS_MASK)));
  float32x4_t v = vdivq_f32(vsubq_f32(xv, vld1q_f32(lo)), s);
  /* Step 0 (a constant dimension): v is 0/0 or +-Inf; force 0, the lowest code. */
  v = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), vceqzq_f32(s)));
  v = vminq_f32(vmaxq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(255.0f));
  return (mode & VEC_CAL_TRUNC) ? vcvtq_s32_f32(v) : vcvtnq_s32_f32(v);
}

/* 16 dimensions -> 16 code bytes. */
CAL_INLINE uint8x16_t cal16(const float *x, const float *lo, const float *st, unsigned mode,
                            uint32x4_t *bad) {
  int16x8_t a = vcombine_s16(vqmovn_s32(cal4(x, lo, st, mode, bad)),
                             vqmovn_s32(cal4(x + 4, lo + 4, st + 4, mode, bad)));
  int16x8_t b = vcombine_s16(vqmovn_s32(cal4(x + 8, lo + 8, st + 8, mode, bad)),
                             vqmovn_s32(cal4(x + 12, lo + 12, st + 12, mode, bad)));
  uint8x16_t u = vcombine_u8(vqmovun_s16(a), vqmovun_s16(b));
  /* int8: code = level - 128, the level's byte with its top bit flipped. */
  return (mode & VEC_CAL_INT8) ? veorq_u8(u, vdupq_n_u8(0x80)) : u;
}

CAL_INLINE size_t encode_body(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                              const float *lo, const float *st, unsigned mode) {
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    uint32x4_t bad = vdupq_n_u32(0);
    size_t j = 0;
    for (; j + 16 <= d; j += 16) vst1q_u8(qr + j, cal16(row + j, lo + j, st + j, mode, &bad));
    /* Overlapping last block: rewrites a few identical codes instead of masking. */
    if (j < d) {
      size_t k = d - 16;
      vst1q_u8(qr + k, cal16(row + k, lo + k, st + k, mode, &bad));
    }
    if (VEC_UNLIKELY(vmaxvq_u32(bad) >= VEC_CAL_NONFINITE_BITS)) return i;
  }
  return n;
}

size_t vec_cal_encode_neon(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                           const float *lo, const float *st, unsigned mode, unsigned flags) {
  if (d < 16) return vec_cal_encode_scalar(x, n, d, ldx, q, lo, st, mode, flags);
  switch (mode) {
  case 0: return encode_body(x, n, d, ldx, q, lo, st, 0);
  case VEC_CAL_INT8: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8);
  case VEC_CAL_TRUNC: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_TRUNC);
  default: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC);
  }
}

/* 4 levels (exact small integers, as int32) -> 4 reconstructions lo + t * step, t per
 * vec_cal_level; a multiply then an add, never fused. */
CAL_INLINE float32x4_t dcal4(int32x4_t c, const float *lo, const float *st, unsigned mode) {
  float32x4_t t = vcvtq_f32_s32(c);
  if (mode & VEC_CAL_INT8) {
    float32x4_t cf = t;
    t = vaddq_f32(cf, vdupq_n_f32(128.0f));
  }
  if (mode & VEC_CAL_TRUNC) t = vaddq_f32(t, vdupq_n_f32(0.5f));
  return vaddq_f32(vld1q_f32(lo), vmulq_f32(t, vld1q_f32(st)));
}

CAL_INLINE void decode_body(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                            unsigned mode, float *out, size_t ldo) {
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    size_t j = 0;
    for (;;) {
      if (j + 16 > d) {
        if (j == d) break;
        j = d - 16; /* overlapping last block */
      }
      uint8x16_t b = vld1q_u8(qr + j);
      int16x8_t l, h;
      if (mode & VEC_CAL_INT8) {
        int8x16_t s = vreinterpretq_s8_u8(b);
        l = vmovl_s8(vget_low_s8(s)), h = vmovl_s8(vget_high_s8(s));
      } else {
        l = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(b)));
        h = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(b)));
      }
      vst1q_f32(o + j, dcal4(vmovl_s16(vget_low_s16(l)), lo + j, st + j, mode));
      vst1q_f32(o + j + 4, dcal4(vmovl_s16(vget_high_s16(l)), lo + j + 4, st + j + 4, mode));
      vst1q_f32(o + j + 8, dcal4(vmovl_s16(vget_low_s16(h)), lo + j + 8, st + j + 8, mode));
      vst1q_f32(o + j + 12, dcal4(vmovl_s16(vget_high_s16(h)), lo + j + 12, st + j + 12, mode));
      j += 16;
    }
  }
}

void vec_cal_decode_neon(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                         unsigned mode, float *out, size_t ldo, unsigned flags) {
  if (d < 16) {
    vec_cal_decode_scalar(q, n, d, lo, st, mode, out, ldo, flags);
    return;
  }
  switch (mode) {
  case 0: decode_body(q, n, d, lo, st, 0, out, ldo); break;
  case VEC_CAL_INT8: decode_body(q, n, d, lo, st, VEC_CAL_INT8, out, ldo); break;
  case VEC_CAL_TRUNC: decode_body(q, n, d, lo, st, VEC_CAL_TRUNC, out, ldo); break;
  default: decode_body(q, n, d, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, out, ldo);
  }
}
