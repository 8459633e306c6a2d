/* pq_neon.c: 4-bit PQ fast-scan with NEON: vqtbl1q_u8 looks up 16 rows of one subspace; the bytes
 * are widened into uint16 sums (vaddw), four accumulators for the block's 32 rows. */
#include <arm_neon.h>

#include "pq_kernels.h"

void vec_pq4_scan_neon(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                       float delta, float *out) {
  const uint8x16_t nib = vdupq_n_u8(0x0f);
  uint16x8_t acc[4];
  for (int h = 0; h < 4; h++) acc[h] = vdupq_n_u16(0);
  for (size_t j = 0; j < npairs; j++) {
    uint8x16_t tl = vld1q_u8(lut + j * 32), th = vld1q_u8(lut + j * 32 + 16);
    for (int h = 0; h < 2; h++) {
      uint8x16_t c = vld1q_u8(blk + j * 32 + 16 * h);
      uint8x16_t va = vqtbl1q_u8(tl, vandq_u8(c, nib));
      uint8x16_t vb = vqtbl1q_u8(th, vshrq_n_u8(c, 4));
      acc[2 * h] = vaddw_u8(vaddw_u8(acc[2 * h], vget_low_u8(va)), vget_low_u8(vb));
      acc[2 * h + 1] = vaddw_high_u8(vaddw_high_u8(acc[2 * h + 1], va), vb);
    }
  }
  float32x4_t b = vdupq_n_f32(bias), dl = vdupq_n_f32(delta);
  for (int h = 0; h < 4; h++) {
    float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(acc[h])));
    float32x4_t hi = vcvtq_f32_u32(vmovl_high_u16(acc[h]));
    vst1q_f32(out + 8 * h, vaddq_f32(b, vmulq_f32(dl, lo)));
    vst1q_f32(out + 8 * h + 4, vaddq_f32(b, vmulq_f32(dl, hi)));
  }
}
