/* kmeans_avx2.c: nearest-centroid assignment with AVX2 + FMA: two rows against 32 centroids per
 * pass (eight accumulators, enough independent FMA chains to hide their latency), a running
 * minimum and its index per lane, and a final lane reduction that keeps the lowest index on ties.
 */
#include <immintrin.h>
#include <math.h>

#include "kmeans_kernels.h"

#define W 8

static inline void track(__m256 v, __m256i idx, __m256 *mn, __m256i *mi) {
  __m256 lt = _mm256_cmp_ps(v, *mn, _CMP_LT_OQ);
  *mn = _mm256_blendv_ps(*mn, v, lt);
  *mi =
      _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*mi), _mm256_castsi256_ps(idx), lt));
}

static inline void finish(__m256 mn[4], __m256i mi[4], uint32_t *best, float *val) {
  float v[4 * W];
  uint32_t id[4 * W];
  for (int r = 0; r < 4; r++) {
    _mm256_storeu_ps(v + r * W, mn[r]);
    _mm256_storeu_si256((__m256i *)(id + r * W), mi[r]);
  }
  float bv = INFINITY;
  uint32_t bi = 0;
  for (int l = 0; l < 4 * W; l++)
    if (v[l] < bv || (v[l] == bv && id[l] < bi)) bv = v[l], bi = id[l];
  *best = bi;
  *val = bv;
}

void vec_km_assign_avx2(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                        const float *cn, size_t k, uint32_t *best, float *val) {
  size_t kp = vec_km_kpad(k);
  const __m256 m2 = _mm256_set1_ps(-2.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const float *r0 = x + i * ldx, *r1 = r0 + ldx;
    __m256 mn0[4], mn1[4];
    __m256i mi0[4], mi1[4];
    for (int r = 0; r < 4; r++) {
      mn0[r] = mn1[r] = _mm256_set1_ps(INFINITY);
      mi0[r] = mi1[r] = _mm256_setzero_si256();
    }
    for (size_t c0 = 0; c0 < kp; c0 += 4 * W) {
      __m256 a[4], b[4];
      for (int r = 0; r < 4; r++) a[r] = b[r] = _mm256_setzero_ps();
      const float *t = ct + c0;
      for (size_t j = 0; j < d; j++, t += kp) {
        __m256 x0 = _mm256_broadcast_ss(r0 + j), x1 = _mm256_broadcast_ss(r1 + j);
        for (int r = 0; r < 4; r++) {
          __m256 c = _mm256_loadu_ps(t + r * W);
          a[r] = _mm256_fmadd_ps(x0, c, a[r]);
          b[r] = _mm256_fmadd_ps(x1, c, b[r]);
        }
      }
      for (int r = 0; r < 4; r++) {
        __m256 norm = _mm256_loadu_ps(cn + c0 + r * W);
        __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(c0 + (size_t)r * W)));
        track(_mm256_fmadd_ps(m2, a[r], norm), idx, &mn0[r], &mi0[r]);
        track(_mm256_fmadd_ps(m2, b[r], norm), idx, &mn1[r], &mi1[r]);
      }
    }
    finish(mn0, mi0, best + i, val + i);
    finish(mn1, mi1, best + i + 1, val + i + 1);
  }
  for (; i < n; i++) {
    const float *r0 = x + i * ldx;
    __m256 mn0[4];
    __m256i mi0[4];
    for (int r = 0; r < 4; r++) mn0[r] = _mm256_set1_ps(INFINITY), mi0[r] = _mm256_setzero_si256();
    for (size_t c0 = 0; c0 < kp; c0 += 4 * W) {
      __m256 a[4];
      for (int r = 0; r < 4; r++) a[r] = _mm256_setzero_ps();
      const float *t = ct + c0;
      for (size_t j = 0; j < d; j++, t += kp) {
        __m256 x0 = _mm256_broadcast_ss(r0 + j);
        for (int r = 0; r < 4; r++) a[r] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(t + r * W), a[r]);
      }
      for (int r = 0; r < 4; r++) {
        __m256 norm = _mm256_loadu_ps(cn + c0 + r * W);
        __m256i idx = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(c0 + (size_t)r * W)));
        track(_mm256_fmadd_ps(m2, a[r], norm), idx, &mn0[r], &mi0[r]);
      }
    }
    finish(mn0, mi0, best + i, val + i);
  }
}
