/* pq_neon.c: 4-bit PQ fast-scan with NEON: vqtbl1q_u8 looks up 16 rows of one subspace; a code
 * byte's two look-ups are added as bytes and widened into uint16 sums (vaddw), four accumulators
 * for the block's 32 rows, for up to VEC_PQ4_QB queries per code load. */
#include <arm_neon.h>

#include "pq_kernels.h"

/* nq is a constant at each call site, so the query loops unroll into registers. */
static inline __attribute__((always_inline)) void scanq(const uint8_t *blk, size_t npairs,
                                                        const uint8_t *lut, size_t ls,
                                                        const float *bias, const float *delta,
                                                        const size_t nq, float *out, size_t ldo) {
  const uint8x16_t nib = vdupq_n_u8(0x0f);
  uint16x8_t acc[VEC_PQ4_QB][4];
  for (size_t i = 0; i < nq; i++)
    for (int h = 0; h < 4; h++) acc[i][h] = vdupq_n_u16(0);
  for (size_t j = 0; j < npairs; j++) {
    uint8x16_t c0 = vld1q_u8(blk + j * 32), c1 = vld1q_u8(blk + j * 32 + 16);
    uint8x16_t l0 = vandq_u8(c0, nib), h0 = vshrq_n_u8(c0, 4);
    uint8x16_t l1 = vandq_u8(c1, nib), h1 = vshrq_n_u8(c1, 4);
    for (size_t i = 0; i < nq; i++) {
      const uint8_t *t = lut + i * ls + j * 32;
      uint8x16_t tl = vld1q_u8(t), th = vld1q_u8(t + 16);
      /* the pair's two look-ups sum to <= 255 (pq_kernels.h): added as bytes, widened once */
      uint8x16_t v0 = vaddq_u8(vqtbl1q_u8(tl, l0), vqtbl1q_u8(th, h0));
      uint8x16_t v1 = vaddq_u8(vqtbl1q_u8(tl, l1), vqtbl1q_u8(th, h1));
      acc[i][0] = vaddw_u8(acc[i][0], vget_low_u8(v0));
      acc[i][1] = vaddw_high_u8(acc[i][1], v0);
      acc[i][2] = vaddw_u8(acc[i][2], vget_low_u8(v1));
      acc[i][3] = vaddw_high_u8(acc[i][3], v1);
    }
  }
  for (size_t i = 0; i < nq; i++) {
    float32x4_t b = vdupq_n_f32(bias[i]), dl = vdupq_n_f32(delta[i]);
    for (int h = 0; h < 4; h++) {
      float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(acc[i][h])));
      float32x4_t hi = vcvtq_f32_u32(vmovl_high_u16(acc[i][h]));
      vst1q_f32(out + i * ldo + 8 * h, vaddq_f32(b, vmulq_f32(dl, lo)));
      vst1q_f32(out + i * ldo + 8 * h + 4, vaddq_f32(b, vmulq_f32(dl, hi)));
    }
  }
}

void vec_pq_scan4_neon(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                       float delta, float *out) {
  scanq(blk, npairs, lut, 0, &bias, &delta, 1, out, 0);
}

void vec_pq_scanq4_neon(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                        const float *bias, const float *delta, size_t nq, float *out, size_t ldo) {
  switch (nq) {
  case 1: scanq(blk, npairs, lut, ls, bias, delta, 1, out, ldo); break;
  case 2: scanq(blk, npairs, lut, ls, bias, delta, 2, out, ldo); break;
  case 3: scanq(blk, npairs, lut, ls, bias, delta, 3, out, ldo); break;
  default: scanq(blk, npairs, lut, ls, bias, delta, 4, out, ldo); break;
  }
}
