/* kmeans_avx2.c: nearest-centroid assignment with AVX2 + FMA: two rows against 32 centroids per
 * pass (eight accumulators, enough independent FMA chains to hide their latency), a running
 * minimum and its index per lane and row, and a final lane reduction that keeps the lowest index
 * on ties.
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

/* The minimum over the 8 lanes, and the lowest centroid index among the lanes holding it. */
static inline void finish1(__m256 mn, __m256i mi, uint32_t *best, float *val) {
  __m128 h = _mm_min_ps(_mm256_castps256_ps128(mn), _mm256_extractf128_ps(mn, 1));
  h = _mm_min_ps(h, _mm_movehl_ps(h, h));
  h = _mm_min_ss(h, _mm_movehdup_ps(h));
  float v = _mm_cvtss_f32(h);
  __m256i far = _mm256_set1_epi32(-1);
  __m256i eq = _mm256_castps_si256(_mm256_cmp_ps(mn, _mm256_set1_ps(v), _CMP_EQ_OQ));
  __m256i id = _mm256_blendv_epi8(far, mi, eq);
  __m128i t = _mm_min_epu32(_mm256_castsi256_si128(id), _mm256_extracti128_si256(id, 1));
  t = _mm_min_epu32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
  t = _mm_min_epu32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
  uint32_t bi = (uint32_t)_mm_cvtsi128_si32(t);
  *best = bi == UINT32_MAX ? 0 : bi; /* no lane equal: only when every distance is +Inf/NaN */
  *val = v;
}

/* k <= 16: two registers hold every centroid; two rows at a time keep four FMA chains going. */
static void assign16(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                     const float *cn, uint32_t *best, float *val) {
  const __m256 m2 = _mm256_set1_ps(-2.0f);
  const __m256 n0 = _mm256_loadu_ps(cn), n1 = _mm256_loadu_ps(cn + 8);
  for (size_t i = 0; i < n; i += 2) {
    size_t nr = n - i < 2 ? n - i : 2;
    const float *r0 = x + i * ldx, *r1 = nr > 1 ? r0 + ldx : r0;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    for (size_t j = 0; j < d; j++) {
      __m256 c0 = _mm256_loadu_ps(ct + j * 16), c1 = _mm256_loadu_ps(ct + j * 16 + 8);
      __m256 x0 = _mm256_broadcast_ss(r0 + j), x1 = _mm256_broadcast_ss(r1 + j);
      a0 = _mm256_fmadd_ps(x0, c0, a0);
      a1 = _mm256_fmadd_ps(x0, c1, a1);
      b0 = _mm256_fmadd_ps(x1, c0, b0);
      b1 = _mm256_fmadd_ps(x1, c1, b1);
    }
    __m256 v[4] = {_mm256_fmadd_ps(m2, a0, n0), _mm256_fmadd_ps(m2, a1, n1),
                   _mm256_fmadd_ps(m2, b0, n0), _mm256_fmadd_ps(m2, b1, n1)};
    for (size_t q = 0; q < nr; q++) {
      __m256 lo = v[2 * q], hi = v[2 * q + 1], m = _mm256_min_ps(lo, hi);
      __m128 h = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      h = _mm_min_ps(h, _mm_movehl_ps(h, h));
      h = _mm_min_ss(h, _mm_movehdup_ps(h));
      float mn = _mm_cvtss_f32(h);
      __m256 mv = _mm256_set1_ps(mn);
      unsigned eq = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(lo, mv, _CMP_EQ_OQ)) |
                    (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(hi, mv, _CMP_EQ_OQ)) << 8;
      best[i + q] = (uint32_t)__builtin_ctz(eq | 0x10000u) & 15u;
      val[i + q] = mn;
    }
  }
}

void vec_kmeans_assign_avx2(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                            const float *cn, size_t k, uint32_t *best, float *val) {
  size_t kp = vec_kmeans_kpad(k);
  if (kp == 16) {
    assign16(x, n, ldx, d, ct, cn, best, val);
    return;
  }
  const __m256 m2 = _mm256_set1_ps(-2.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  /* One running minimum (and index) per row rather than per row and centroid register: eight of
   * each beside eight accumulators would not fit in 16 registers, and at PQ's short subspaces
   * (d = 8) the spills cost more than the arithmetic. Each lane still meets its centroids in
   * increasing order, so the strict compare keeps the lowest index. */
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const float *r0 = x + i * ldx, *r1 = r0 + ldx;
    __m256 mn0 = _mm256_set1_ps(INFINITY), mn1 = mn0;
    __m256i mi0 = _mm256_setzero_si256(), mi1 = mi0;
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
        track(_mm256_fmadd_ps(m2, a[r], norm), idx, &mn0, &mi0);
        track(_mm256_fmadd_ps(m2, b[r], norm), idx, &mn1, &mi1);
      }
    }
    finish1(mn0, mi0, best + i, val + i);
    finish1(mn1, mi1, best + i + 1, val + i + 1);
  }
  for (; i < n; i++) {
    const float *r0 = x + i * ldx;
    __m256 mn0 = _mm256_set1_ps(INFINITY);
    __m256i mi0 = _mm256_setzero_si256();
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
        track(_mm256_fmadd_ps(m2, a[r], norm), idx, &mn0, &mi0);
      }
    }
    finish1(mn0, mi0, best + i, val + i);
  }
}
