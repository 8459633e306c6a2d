/* rabitq_neon.c: NEON kernels of the rabitq codec: the scale search in four 4-lane registers (the
 * reference's 16 lanes exactly), the rest rabitq_tmpl.h vectorised for AArch64. */
#include <arm_neon.h>

#define VEC_RQ_ISA       neon
#define VEC_RQ_HAVE_EVAL 1
#include "rabitq_tmpl.h"

void vec_rabitq_eval_neon(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                          float *ip, float *nn) {
  const float32x4_t vt = vdupq_n_f32(t), lo = vdupq_n_f32(fmin), hi = vdupq_n_f32(fmax);
  const float32x4_t two = vdupq_n_f32(2.0f), one = vdupq_n_f32(1.0f);
  float32x4_t a[4], b[4];
  for (int k = 0; k < 4; k++) a[k] = b[k] = vdupq_n_f32(0.0f);
  for (size_t j = 0; j < dp; j += 16)
    for (int k = 0; k < 4; k++) {
      float32x4_t v = vld1q_f32(o + j + 4 * k);
      float32x4_t f = vminq_f32(vmaxq_f32(vrndmq_f32(vmulq_f32(vt, v)), lo), hi);
      float32x4_t y = vaddq_f32(vmulq_f32(two, f), one);
      a[k] = vaddq_f32(a[k], vmulq_f32(y, v));
      b[k] = vaddq_f32(b[k], vmulq_f32(y, y));
      if (u) {
        uint32x4_t i = vcvtq_u32_f32(vsubq_f32(f, lo));
        uint16x4_t h = vmovn_u32(i);
        uint8x8_t q = vmovn_u16(vcombine_u16(h, h));
        vst1_lane_u32((uint32_t *)(void *)(u + j + 4 * k), vreinterpret_u32_u8(q), 0);
      }
    }
  float la[16], lb[16];
  for (int k = 0; k < 4; k++) vst1q_f32(la + 4 * k, a[k]), vst1q_f32(lb + 4 * k, b[k]);
  *ip = rq_tree_neon(la);
  *nn = rq_tree_neon(lb);
}
