/* kmeans_scalar.c: the reference nearest-centroid assignment, and the per-ISA picker. */
#include "kmeans_kernels.h"

void vec_kmeans_assign_scalar(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                              const float *cn, size_t k, uint32_t *best, float *val) {
  size_t kp = vec_kmeans_kpad(k);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    float bv = 0.0f;
    uint32_t bi = 0;
    for (size_t c0 = 0; c0 < k; c0 += 16) {
      float acc[16] = {0};
      size_t w = k - c0 < 16 ? k - c0 : 16;
      for (size_t j = 0; j < d; j++) {
        float xj = row[j];
        const float *t = ct + j * kp + c0;
        for (size_t c = 0; c < w; c++) acc[c] += xj * t[c];
      }
      for (size_t c = 0; c < w; c++) {
        float v = cn[c0 + c] - 2.0f * acc[c];
        if ((c0 == 0 && c == 0) || v < bv) bv = v, bi = (uint32_t)(c0 + c);
      }
    }
    best[i] = bi;
    val[i] = bv;
  }
}
