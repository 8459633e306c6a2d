/* search_avx512.c: the flat search's dot products with AVX-512F. Each row keeps two 16-lane
 * accumulators (lanes j mod 32) reduced in a fixed order, whether it is scored in a block of four
 * or alone; the tail is a zero-masked load, and q * 0 adds exactly nothing. */
#include <immintrin.h>

#include "search_kernels.h"

#define ROW(r) VEC_DOTS_ROW(rows, ld, idx, r)

static inline float reduce(__m512 a, __m512 b) {
  __m512 s = _mm512_add_ps(a, b);
  __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(s),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

void vec_dots_avx512(const float *q, const float *rows, size_t ld, const uint64_t *idx, size_t nr,
                     size_t d, float *out) {
  size_t d32 = d & ~(size_t)31, rem = d - d32;
  __mmask16 mlo = (__mmask16)(rem >= 16 ? 0xFFFFu : (1u << rem) - 1u);
  __mmask16 mhi = (__mmask16)(rem > 16 ? (1u << (rem - 16)) - 1u : 0u);
  __m512 qlo = _mm512_maskz_loadu_ps(mlo, q + d32), qhi = _mm512_maskz_loadu_ps(mhi, q + d32 + 16);
  size_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const float *x0 = ROW(r), *x1 = ROW(r + 1), *x2 = ROW(r + 2), *x3 = ROW(r + 3);
    __m512 a0 = _mm512_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    for (size_t j = 0; j < d32; j += 32) {
      __m512 u = _mm512_loadu_ps(q + j), v = _mm512_loadu_ps(q + j + 16);
      a0 = _mm512_fmadd_ps(u, _mm512_loadu_ps(x0 + j), a0);
      b0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x0 + j + 16), b0);
      a1 = _mm512_fmadd_ps(u, _mm512_loadu_ps(x1 + j), a1);
      b1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x1 + j + 16), b1);
      a2 = _mm512_fmadd_ps(u, _mm512_loadu_ps(x2 + j), a2);
      b2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x2 + j + 16), b2);
      a3 = _mm512_fmadd_ps(u, _mm512_loadu_ps(x3 + j), a3);
      b3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(x3 + j + 16), b3);
    }
    if (rem) {
      a0 = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(mlo, x0 + d32), a0);
      b0 = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(mhi, x0 + d32 + 16), b0);
      a1 = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(mlo, x1 + d32), a1);
      b1 = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(mhi, x1 + d32 + 16), b1);
      a2 = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(mlo, x2 + d32), a2);
      b2 = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(mhi, x2 + d32 + 16), b2);
      a3 = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(mlo, x3 + d32), a3);
      b3 = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(mhi, x3 + d32 + 16), b3);
    }
    out[r] = reduce(a0, b0);
    out[r + 1] = reduce(a1, b1);
    out[r + 2] = reduce(a2, b2);
    out[r + 3] = reduce(a3, b3);
  }
  for (; r < nr; r++) {
    const float *x0 = ROW(r);
    __m512 a0 = _mm512_setzero_ps(), b0 = a0;
    for (size_t j = 0; j < d32; j += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j), _mm512_loadu_ps(x0 + j), a0);
      b0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + j + 16), _mm512_loadu_ps(x0 + j + 16), b0);
    }
    if (rem) {
      a0 = _mm512_fmadd_ps(qlo, _mm512_maskz_loadu_ps(mlo, x0 + d32), a0);
      b0 = _mm512_fmadd_ps(qhi, _mm512_maskz_loadu_ps(mhi, x0 + d32 + 16), b0);
    }
    out[r] = reduce(a0, b0);
  }
}
