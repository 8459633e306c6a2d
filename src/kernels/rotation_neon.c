/* rotation_neon.c: NEON kernels of the structured rotation. Blocks of 64 floats go through every
 * stage up to h = 32 in 16 registers; stages h = 1, 2 run inside one register. Same products and
 * butterflies as rotation_scalar.c, so the same bits. */
#include <arm_neon.h>

#include "rotation_kernels.h"

static inline float32x4_t fwht4(float32x4_t v) {
  /* h = 1: the partner of each element is its neighbour; odd lanes take partner - self. */
  static const uint32_t odd[4] = {0, 0xffffffffu, 0, 0xffffffffu};
  float32x4_t sw = vrev64q_f32(v);
  v = vbslq_f32(vld1q_u32(odd), vsubq_f32(sw, v), vaddq_f32(v, sw));
  sw = vextq_f32(v, v, 2); /* partners of h = 2 */
  return vcombine_f32(vget_low_f32(vaddq_f32(v, sw)), vget_high_f32(vsubq_f32(sw, v)));
}

static inline __attribute__((always_inline)) void block(float *x, const float *m, size_t nv) {
  float32x4_t r[16];
  for (size_t i = 0; i < nv; i++)
    r[i] = fwht4(vmulq_f32(vld1q_f32(x + 4 * i), vld1q_f32(m + 4 * i)));
  for (size_t h = 1; h < nv; h *= 2)
    for (size_t i = 0; i < nv; i += 2 * h)
      for (size_t j = i; j < i + h; j++) {
        float32x4_t a = r[j], b = r[j + h];
        r[j] = vaddq_f32(a, b);
        r[j + h] = vsubq_f32(a, b);
      }
  for (size_t i = 0; i < nv; i++) vst1q_f32(x + 4 * i, r[i]);
}

void vec_rotation_fwht_neon(float *x, const float *m, size_t p) {
  if (p < 4) {
    vec_rotation_fwht_scalar(x, m, p);
    return;
  }
  size_t bs = p < 64 ? p : 64;
  if (bs == 64)
    for (size_t i = 0; i < p; i += bs) block(x + i, m + i, 16); /* constant: all in registers */
  else
    block(x, m, bs / 4);
  for (size_t h = 64; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 4) {
        float32x4_t a = vld1q_f32(x + j), b = vld1q_f32(x + j + h);
        vst1q_f32(x + j, vaddq_f32(a, b));
        vst1q_f32(x + j + h, vsubq_f32(a, b));
      }
}

void vec_rotation_vmul_neon(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vld1q_f32(m + i)));
  for (; i < n; i++) x[i] *= m[i];
}

void vec_rotation_kac_neon(float *x, const float *m, size_t h) {
  size_t i = 0;
  for (; i + 4 <= h; i += 4) {
    float32x4_t a = vmulq_f32(vld1q_f32(x + i), vld1q_f32(m + i));
    float32x4_t b = vmulq_f32(vld1q_f32(x + i + h), vld1q_f32(m + i + h));
    vst1q_f32(x + i, vaddq_f32(a, b));
    vst1q_f32(x + i + h, vsubq_f32(a, b));
  }
  vec_rotation_kac_tail_scalar(x, m, i, h);
}
