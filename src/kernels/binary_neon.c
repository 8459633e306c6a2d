/* binary_neon.c: AArch64 NEON kernels of the binary (sign-bit) codec. Compare masks are narrowed to
 * one byte per element, weighted 128, 64, ..., 1 and summed pairwise, which builds the bytes
 * MSB-first directly (no bit reversal, unlike x86). Rows shorter than 8 go to the scalar code. */
#include <arm_neon.h>
#include <string.h>

#include "binary_kernels.h"

static const uint8_t k_weights[16] = {128, 64, 32, 16, 8, 4, 2, 1, 128, 64, 32, 16, 8, 4, 2, 1};

/* 0xff / 0x00 per element of 4 floats (x > 0, false for NaN and both zeros), and the running max of
 * |x| bits for the NaN/Inf check. */
static inline uint32x4_t gt0(const float *p, uint32x4_t *amax) {
  float32x4_t v = vld1q_f32(p);
  *amax = vmaxq_u32(*amax, vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(VEC_B1_ABS_MASK)));
  return vcgtq_f32(v, vdupq_n_f32(0.0f));
}

/* 16 floats -> 16 bytes in element order, each its element's bit weight or 0. Taking the low half
 * of each lane twice (uzp1) narrows the masks without saturating arithmetic. */
static inline uint8x16_t weighted16(const float *p, uint32x4_t *amax, uint8x16_t w) {
  uint16x8_t a =
      vuzp1q_u16(vreinterpretq_u16_u32(gt0(p, amax)), vreinterpretq_u16_u32(gt0(p + 4, amax)));
  uint16x8_t b =
      vuzp1q_u16(vreinterpretq_u16_u32(gt0(p + 8, amax)), vreinterpretq_u16_u32(gt0(p + 12, amax)));
  return vandq_u8(vuzp1q_u8(vreinterpretq_u8_u16(a), vreinterpretq_u8_u16(b)), w);
}

/* One code byte from 8 floats (element 0 in bit 7). */
static inline uint8_t byte8(const float *p, uint32x4_t *amax, uint8x16_t w) {
  uint16x8_t a =
      vuzp1q_u16(vreinterpretq_u16_u32(gt0(p, amax)), vreinterpretq_u16_u32(gt0(p + 4, amax)));
  return vaddv_u8(vand_u8(vmovn_u16(a), vget_low_u8(w))); /* distinct bits: the sum is an OR */
}

size_t vec_binary_encode_neon(const float *x, size_t n, size_t d, size_t ldx, uint8_t *codes,
                              size_t ldc, unsigned flags) {
  if (d < 8) return vec_binary_encode_scalar(x, n, d, ldx, codes, ldc, flags);
  const uint8x16_t w = vld1q_u8(k_weights);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *c = codes + i * ldc;
    uint32x4_t amax = vdupq_n_u32(0);
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
      /* Pairwise adds keep element order: after three rounds lane k sums elements 8k..8k+7. */
      uint8x16_t ab = vpaddq_u8(weighted16(row + j, &amax, w), weighted16(row + j + 16, &amax, w));
      uint8x16_t cd =
          vpaddq_u8(weighted16(row + j + 32, &amax, w), weighted16(row + j + 48, &amax, w));
      uint8x16_t s = vpaddq_u8(ab, cd);
      vst1_u8(c + j / 8, vget_low_u8(vpaddq_u8(s, s)));
    }
    for (; j + 8 <= d; j += 8) c[j / 8] = byte8(row + j, &amax, w);
    if (j < d) {
      /* The last 8 elements end the row: shifting up by 8 - r drops the already-encoded ones and
       * leaves the pad bits 0. */
      unsigned r = (unsigned)(d - j);
      c[j / 8] = (uint8_t)((unsigned)byte8(row + d - 8, &amax, w) << (8 - r));
    }
    if (vmaxvq_u32(amax) >= VEC_B1_NONFINITE) return i;
  }
  return n;
}

/* 4 floats from a 32-bit word holding element t in bit 31 - t: shift each element's bit to the
 * sign position, keep only it, and flip -1.0f's sign where it is set. */
static inline float32x4_t signs4(uint32x4_t w, int32x4_t shift) {
  uint32x4_t sign = vandq_u32(vshlq_u32(w, shift), vdupq_n_u32(0x80000000u));
  return vreinterpretq_f32_u32(veorq_u32(sign, vdupq_n_u32(VEC_B1_MINUS_ONE)));
}

void vec_binary_decode_neon(const uint8_t *codes, size_t n, size_t d, size_t ldc, float *out,
                            size_t ldo, unsigned flags) {
  if (d < 8) {
    vec_binary_decode_scalar(codes, n, d, ldc, out, ldo, flags);
    return;
  }
  int32x4_t sh[8];
  for (int k = 0; k < 8; k++) {
    const int32_t s[4] = {4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3};
    sh[k] = vld1q_s32(s);
  }
  for (size_t i = 0; i < n; i++) {
    const uint8_t *c = codes + i * ldc;
    float *o = out + i * ldo;
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
      uint32_t v;
      memcpy(&v, c + j / 8, 4);
      /* Byte-swapped, the first code byte is the top byte: element t lands in bit 31 - t. */
      uint32x4_t b = vdupq_n_u32(__builtin_bswap32(v));
      for (int k = 0; k < 8; k++) vst1q_f32(o + j + 4 * k, signs4(b, sh[k]));
    }
    for (; j + 8 <= d; j += 8) {
      uint32x4_t b = vdupq_n_u32((uint32_t)c[j / 8] << 24);
      vst1q_f32(o + j, signs4(b, sh[0]));
      vst1q_f32(o + j + 4, signs4(b, sh[1]));
    }
    if (j < d) {
      /* The last 8 elements straddle code bytes j/8 - 1 and j/8 (j >= 8 here): join them and
       * shift so that element d - 8 lands in bit 31. */
      unsigned r = (unsigned)(d - j);
      uint32x4_t b = vdupq_n_u32(((uint32_t)c[j / 8 - 1] << 8 | c[j / 8]) << (16 + r));
      vst1q_f32(o + d - 8, signs4(b, sh[0]));
      vst1q_f32(o + d - 4, signs4(b, sh[1]));
    }
  }
}
