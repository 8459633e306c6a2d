/* rabitq_avx2.c: AVX2 kernels of the rabitq codec: the scale search in two 8-lane registers (the
 * reference's 16 lanes exactly), the rest rabitq_tmpl.h vectorised with -mavx2 (and POPCNT, which
 * every AVX2 CPU has, for the 1-bit codes). */
#include <immintrin.h>

#define VEC_RQ_ISA         avx2
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#define VEC_RQ_HAVE_EVAL   1
#include "rabitq_tmpl.h"

static inline __m256 grid8(__m256 v, __m256 vt, __m256 lo, __m256 hi, __m256 *f) {
  *f = _mm256_min_ps(_mm256_max_ps(_mm256_floor_ps(_mm256_mul_ps(vt, v)), lo), hi);
  return _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), *f), _mm256_set1_ps(1.0f));
}

static inline void put8(uint8_t *u, __m256 f, __m256 lo) {
  __m256i i = _mm256_cvtps_epi32(_mm256_sub_ps(f, lo));
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  _mm_storel_epi64((__m128i *)(void *)u, _mm_packus_epi16(w, w));
}

void vec_rq_eval_avx2(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                      float *ip, float *nn) {
  const __m256 vt = _mm256_set1_ps(t), lo = _mm256_set1_ps(fmin), hi = _mm256_set1_ps(fmax);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, f0, f1;
  for (size_t j = 0; j < dp; j += 16) {
    __m256 v0 = _mm256_loadu_ps(o + j), v1 = _mm256_loadu_ps(o + j + 8);
    __m256 y0 = grid8(v0, vt, lo, hi, &f0), y1 = grid8(v1, vt, lo, hi, &f1);
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(y0, v0));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(y1, v1));
    b0 = _mm256_add_ps(b0, _mm256_mul_ps(y0, y0));
    b1 = _mm256_add_ps(b1, _mm256_mul_ps(y1, y1));
    if (u) put8(u + j, f0, lo), put8(u + j + 8, f1, lo);
  }
  float la[16], lb[16];
  _mm256_storeu_ps(la, a0), _mm256_storeu_ps(la + 8, a1);
  _mm256_storeu_ps(lb, b0), _mm256_storeu_ps(lb + 8, b1);
  *ip = rq_tree_avx2(la);
  *nn = rq_tree_avx2(lb);
}
