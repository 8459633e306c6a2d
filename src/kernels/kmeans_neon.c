/* kmeans_neon.c: nearest-centroid assignment with NEON: one row against 16 centroids per pass
 * (four FMA chains), a running minimum and index per lane, lowest index kept on ties. */
#include <arm_neon.h>
#include <math.h>

#include "kmeans_kernels.h"

void vec_kmeans_assign_neon(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                            const float *cn, size_t k, uint32_t *best, float *val) {
  size_t kp = vec_kmeans_kpad(k);
  const uint32_t lane_init[4] = {0, 1, 2, 3};
  const uint32x4_t lane = vld1q_u32(lane_init);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    float32x4_t mn[4];
    uint32x4_t mi[4];
    for (int r = 0; r < 4; r++) mn[r] = vdupq_n_f32(INFINITY), mi[r] = vdupq_n_u32(0);
    for (size_t c0 = 0; c0 < kp; c0 += 16) {
      float32x4_t a[4];
      for (int r = 0; r < 4; r++) a[r] = vdupq_n_f32(0.0f);
      const float *t = ct + c0;
      for (size_t j = 0; j < d; j++, t += kp) {
        float32x4_t xj = vdupq_n_f32(row[j]);
        for (int r = 0; r < 4; r++) a[r] = vfmaq_f32(a[r], xj, vld1q_f32(t + 4 * r));
      }
      for (int r = 0; r < 4; r++) {
        float32x4_t v = vfmaq_f32(vld1q_f32(cn + c0 + 4 * r), vdupq_n_f32(-2.0f), a[r]);
        uint32x4_t lt = vcltq_f32(v, mn[r]);
        mn[r] = vbslq_f32(lt, v, mn[r]);
        mi[r] = vbslq_u32(lt, vaddq_u32(lane, vdupq_n_u32((uint32_t)(c0 + 4 * (size_t)r))), mi[r]);
      }
    }
    float v[16];
    uint32_t id[16];
    for (int r = 0; r < 4; r++) vst1q_f32(v + 4 * r, mn[r]), vst1q_u32(id + 4 * r, mi[r]);
    float bv = INFINITY;
    uint32_t bi = 0;
    for (int l = 0; l < 16; l++)
      if (v[l] < bv || (v[l] == bv && id[l] < bi)) bv = v[l], bi = id[l];
    best[i] = bi;
    val[i] = bv;
  }
}
