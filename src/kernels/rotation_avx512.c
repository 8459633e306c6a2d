/* rotation_avx512.c: AVX-512 kernels of the structured rotation (compiled with -mavx512f). The
 * stages with h < 16 run inside one register; later stages pair whole vectors. Same butterflies as
 * rotation_scalar.c, so the same bits. */
#include <immintrin.h>

#include "rotation_kernels.h"

/* Stages h = 1, 2, 4, 8 on 16 consecutive floats; the masked subtract gives the high element of
 * each pair a - b (sw - v, sw being its partner). */
static inline __m512 fwht16(__m512 v) {
  __m512 sw = _mm512_permute_ps(v, 0xB1);
  v = _mm512_mask_sub_ps(_mm512_add_ps(v, sw), 0xAAAA, sw, v);
  sw = _mm512_permute_ps(v, 0x4E);
  v = _mm512_mask_sub_ps(_mm512_add_ps(v, sw), 0xCCCC, sw, v);
  sw = _mm512_shuffle_f32x4(v, v, 0xB1);
  v = _mm512_mask_sub_ps(_mm512_add_ps(v, sw), 0xF0F0, sw, v);
  sw = _mm512_shuffle_f32x4(v, v, 0x4E);
  return _mm512_mask_sub_ps(_mm512_add_ps(v, sw), 0xFF00, sw, v);
}

void vec_fwht_avx512(float *x, size_t p) {
  if (p < 16) {
    vec_fwht_avx2(x, p);
    return;
  }
  for (size_t i = 0; i < p; i += 16) _mm512_storeu_ps(x + i, fwht16(_mm512_loadu_ps(x + i)));
  for (size_t h = 16; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 16) {
        __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + h);
        _mm512_storeu_ps(x + j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(x + j + h, _mm512_sub_ps(a, b));
      }
}

void vec_vmul_avx512(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(m + i)));
  vec_vmul_avx2(x + i, m + i, n - i);
}

void vec_kac_avx512(float *x, size_t h) {
  size_t i = 0;
  for (; i + 16 <= h; i += 16) {
    __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + h);
    _mm512_storeu_ps(x + i, _mm512_add_ps(a, b));
    _mm512_storeu_ps(x + i + h, _mm512_sub_ps(a, b));
  }
  vec_kac_scalar_tail(x, i, h);
}
