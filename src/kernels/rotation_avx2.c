/* rotation_avx2.c: AVX2 kernels of the structured rotation (compiled with -mavx2). The stages with
 * h < 8 run inside one register (a permute brings each butterfly's partner alongside); later
 * stages pair whole vectors. Same butterflies as rotation_scalar.c, so the same bits. */
#include <immintrin.h>

#include "rotation_kernels.h"

/* Stages h = 1, 2, 4 on 8 consecutive floats. In each pair the low element takes a + b and the
 * high one a - b, which with sw = the partner is sw - v. */
static inline __m256 fwht8(__m256 v) {
  __m256 sw = _mm256_permute_ps(v, 0xB1);
  v = _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xAA);
  sw = _mm256_permute_ps(v, 0x4E);
  v = _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xCC);
  sw = _mm256_permute2f128_ps(v, v, 0x01);
  return _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), 0xF0);
}

void vec_fwht_avx2(float *x, size_t p) {
  if (p < 8) {
    vec_fwht_scalar(x, p);
    return;
  }
  for (size_t i = 0; i < p; i += 8) _mm256_storeu_ps(x + i, fwht8(_mm256_loadu_ps(x + i)));
  for (size_t h = 8; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 8) {
        __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
        _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
        _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
      }
}

void vec_vmul_avx2(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(m + i)));
  for (; i < n; i++) x[i] *= m[i];
}

void vec_kac_avx2(float *x, size_t h) {
  size_t i = 0;
  for (; i + 8 <= h; i += 8) {
    __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + h);
    _mm256_storeu_ps(x + i, _mm256_add_ps(a, b));
    _mm256_storeu_ps(x + i + h, _mm256_sub_ps(a, b));
  }
  vec_kac_scalar_tail(x, i, h);
}
