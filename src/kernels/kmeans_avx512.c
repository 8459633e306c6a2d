/* kmeans_avx512.c: nearest-centroid assignment with AVX-512: four rows against 64 centroids per
 * pass (16 accumulators: independent FMA chains, and each centroid load used four times), a running
 * minimum and its index per lane, and a lane reduction that keeps the lowest index on ties. k <= 16
 * has a path of its own. */
#include <immintrin.h>
#include <math.h>

#include "kmeans_kernels.h"

#define W 16

static inline void track(__m512 v, __m512i idx, __m512 *mn, __m512i *mi) {
  __mmask16 lt = _mm512_cmp_ps_mask(v, *mn, _CMP_LT_OQ);
  *mn = _mm512_mask_blend_ps(lt, *mn, v);
  *mi = _mm512_mask_blend_epi32(lt, *mi, idx);
}

/* The minimum over the 4 x 16 lanes, and the lowest centroid index among the lanes holding it. */
static inline void finish(__m512 mn[4], __m512i mi[4], uint32_t *best, float *val) {
  __m512 m = _mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3]));
  float v = _mm512_reduce_min_ps(m);
  __m512 vv = _mm512_set1_ps(v);
  __m512i far = _mm512_set1_epi32(-1), id = far;
  for (int r = 0; r < 4; r++)
    id = _mm512_min_epu32(
        id, _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(mn[r], vv, _CMP_EQ_OQ), far, mi[r]));
  uint32_t bi = (uint32_t)_mm512_reduce_min_epu32(id);
  *best = bi == UINT32_MAX ? 0 : bi; /* no lane equal: only when every distance is +Inf/NaN */
  *val = v;
}

/* k <= 16: one register holds every centroid; four rows at a time keep four FMA chains going. */
static void assign16(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                     const float *cn, uint32_t *best, float *val) {
  const __m512 m2 = _mm512_set1_ps(-2.0f), norm = _mm512_loadu_ps(cn);
  size_t i = 0;
  for (; i < n; i += 4) {
    size_t nr = n - i < 4 ? n - i : 4;
    const float *r[4];
    for (size_t q = 0; q < 4; q++) r[q] = x + (i + (q < nr ? q : 0)) * ldx;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t j = 0; j < d; j++) {
      __m512 c = _mm512_loadu_ps(ct + j * 16);
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(r[0][j]), c, a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(r[1][j]), c, a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(r[2][j]), c, a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(r[3][j]), c, a3);
    }
    __m512 v[4] = {_mm512_fmadd_ps(m2, a0, norm), _mm512_fmadd_ps(m2, a1, norm),
                   _mm512_fmadd_ps(m2, a2, norm), _mm512_fmadd_ps(m2, a3, norm)};
    for (size_t q = 0; q < nr; q++) {
      float mn = _mm512_reduce_min_ps(v[q]);
      __mmask16 eq = _mm512_cmp_ps_mask(v[q], _mm512_set1_ps(mn), _CMP_EQ_OQ);
      best[i + q] = (uint32_t)__builtin_ctz((unsigned)eq | 0x10000u) & 15u;
      val[i + q] = mn;
    }
  }
}

void vec_kmeans_assign_avx512(const float *x, size_t n, size_t ldx, size_t d, const float *ct,
                              const float *cn, size_t k, uint32_t *best, float *val) {
  size_t kp = vec_kmeans_kpad(k);
  if (kp == 16) {
    assign16(x, n, ldx, d, ct, cn, best, val);
    return;
  }
  const __m512 m2 = _mm512_set1_ps(-2.0f);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  /* Four rows per pass: 16 accumulators reuse each centroid load four times, which halves the
   * traffic from L2 (where the transposed centroids of a full-dimension k-means live) against two
   * rows. A short last group repeats its first row (computed, not stored). */
  for (size_t i = 0; i < n; i += 4) {
    size_t nr = n - i < 4 ? n - i : 4;
    const float *rw[4];
    for (size_t q = 0; q < 4; q++) rw[q] = x + (i + (q < nr ? q : 0)) * ldx;
    __m512 mn[4][4];
    __m512i mi[4][4];
    for (int q = 0; q < 4; q++)
      for (int r = 0; r < 4; r++)
        mn[q][r] = _mm512_set1_ps(INFINITY), mi[q][r] = _mm512_setzero_si512();
    for (size_t c0 = 0; c0 < kp; c0 += 4 * W) {
      __m512 a[4][4];
      for (int q = 0; q < 4; q++)
        for (int r = 0; r < 4; r++) a[q][r] = _mm512_setzero_ps();
      const float *t = ct + c0;
      for (size_t j = 0; j < d; j++, t += kp) {
        __m512 c[4];
        for (int r = 0; r < 4; r++) c[r] = _mm512_loadu_ps(t + r * W);
        for (int q = 0; q < 4; q++) {
          __m512 xq = _mm512_set1_ps(rw[q][j]);
          for (int r = 0; r < 4; r++) a[q][r] = _mm512_fmadd_ps(xq, c[r], a[q][r]);
        }
      }
      for (int r = 0; r < 4; r++) {
        __m512 norm = _mm512_loadu_ps(cn + c0 + r * W);
        __m512i idx = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(c0 + (size_t)r * W)));
        for (int q = 0; q < 4; q++)
          track(_mm512_fmadd_ps(m2, a[q][r], norm), idx, &mn[q][r], &mi[q][r]);
      }
    }
    for (size_t q = 0; q < nr; q++) finish(mn[q], mi[q], best + i + q, val + i + q);
  }
}
