/* rotation_neon.c: NEON kernels of the structured rotation. Stages h = 1, 2 run inside one
 * register; later stages pair whole vectors. Same butterflies as rotation_scalar.c, so the same
 * bits. */
#include <arm_neon.h>

#include "rotation_kernels.h"

static inline float32x4_t fwht4(float32x4_t v) {
  float32x4_t sw = vrev64q_f32(v); /* partners of h = 1 */
  v = vtrn1q_f32(vaddq_f32(v, sw), vsubq_f32(sw, v));
  sw = vextq_f32(v, v, 2); /* partners of h = 2 */
  return vcombine_f32(vget_low_f32(vaddq_f32(v, sw)), vget_high_f32(vsubq_f32(sw, v)));
}

void vec_fwht_neon(float *x, size_t p) {
  if (p < 4) {
    vec_fwht_scalar(x, p);
    return;
  }
  for (size_t i = 0; i < p; i += 4) vst1q_f32(x + i, fwht4(vld1q_f32(x + i)));
  for (size_t h = 4; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 4) {
        float32x4_t a = vld1q_f32(x + j), b = vld1q_f32(x + j + h);
        vst1q_f32(x + j, vaddq_f32(a, b));
        vst1q_f32(x + j + h, vsubq_f32(a, b));
      }
}

void vec_vmul_neon(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vld1q_f32(m + i)));
  for (; i < n; i++) x[i] *= m[i];
}

void vec_kac_neon(float *x, size_t h) {
  size_t i = 0;
  for (; i + 4 <= h; i += 4) {
    float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + h);
    vst1q_f32(x + i, vaddq_f32(a, b));
    vst1q_f32(x + i + h, vsubq_f32(a, b));
  }
  vec_kac_scalar_tail(x, i, h);
}
