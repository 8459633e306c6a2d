/* search_avx2.c: the flat search's dot products with AVX2 + FMA. Each row keeps two 8-lane
 * accumulators (lanes j mod 16) reduced in a fixed order, whether it is scored in a block of four
 * or alone; the tail is a zero-filled masked load, and q * 0 adds exactly nothing. */
#include <immintrin.h>

#include "search_kernels.h"

#define ROW(r) VEC_DOTS_ROW(rows, ld, idx, r)

static inline __m256 tail_mask_load(const float *p, size_t rem) {
  static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(m + 8 - rem)));
}

static inline float reduce(__m256 a, __m256 b) {
  __m256 s = _mm256_add_ps(a, b);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

/* The last d % 16 elements as two zero-padded vectors. */
static inline void tail(const float *p, size_t j, size_t d, __m256 *lo, __m256 *hi) {
  size_t rem = d - j;
  if (rem >= 8) {
    *lo = _mm256_loadu_ps(p + j);
    *hi = rem > 8 ? tail_mask_load(p + j + 8, rem - 8) : _mm256_setzero_ps();
  } else {
    *lo = rem ? tail_mask_load(p + j, rem) : _mm256_setzero_ps();
    *hi = _mm256_setzero_ps();
  }
}

void vec_dots_avx2(const float *q, const float *rows, size_t ld, const uint64_t *idx, size_t nr,
                   size_t d, float *out) {
  size_t d16 = d & ~(size_t)15;
  __m256 qlo = _mm256_setzero_ps(), qhi = _mm256_setzero_ps();
  tail(q, d16, d, &qlo, &qhi);
  size_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const float *x0 = ROW(r), *x1 = ROW(r + 1), *x2 = ROW(r + 2), *x3 = ROW(r + 3);
    __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    for (size_t j = 0; j < d16; j += 16) {
      __m256 u = _mm256_loadu_ps(q + j), v = _mm256_loadu_ps(q + j + 8);
      a0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x0 + j), a0);
      b0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x0 + j + 8), b0);
      a1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x1 + j), a1);
      b1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x1 + j + 8), b1);
      a2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x2 + j), a2);
      b2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x2 + j + 8), b2);
      a3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x3 + j), a3);
      b3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(x3 + j + 8), b3);
    }
    if (d16 < d) {
      __m256 lo, hi;
      tail(x0, d16, d, &lo, &hi);
      a0 = _mm256_fmadd_ps(qlo, lo, a0);
      b0 = _mm256_fmadd_ps(qhi, hi, b0);
      tail(x1, d16, d, &lo, &hi);
      a1 = _mm256_fmadd_ps(qlo, lo, a1);
      b1 = _mm256_fmadd_ps(qhi, hi, b1);
      tail(x2, d16, d, &lo, &hi);
      a2 = _mm256_fmadd_ps(qlo, lo, a2);
      b2 = _mm256_fmadd_ps(qhi, hi, b2);
      tail(x3, d16, d, &lo, &hi);
      a3 = _mm256_fmadd_ps(qlo, lo, a3);
      b3 = _mm256_fmadd_ps(qhi, hi, b3);
    }
    out[r] = reduce(a0, b0);
    out[r + 1] = reduce(a1, b1);
    out[r + 2] = reduce(a2, b2);
    out[r + 3] = reduce(a3, b3);
  }
  for (; r < nr; r++) {
    const float *x0 = ROW(r);
    __m256 a0 = _mm256_setzero_ps(), b0 = a0;
    for (size_t j = 0; j < d16; j += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(x0 + j), a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + j + 8), _mm256_loadu_ps(x0 + j + 8), b0);
    }
    if (d16 < d) {
      __m256 lo, hi;
      tail(x0, d16, d, &lo, &hi);
      a0 = _mm256_fmadd_ps(qlo, lo, a0);
      b0 = _mm256_fmadd_ps(qhi, hi, b0);
    }
    out[r] = reduce(a0, b0);
  }
}
