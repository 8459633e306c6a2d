/* rotation_avx512.c: AVX-512 kernels of the structured rotation (compiled with -mavx512f). Blocks
 * of 256 floats go through every stage up to h = 128 in 16 registers (one load and one store per
 * element); stages with h < 16 run inside a register (a permute brings each butterfly's partner
 * alongside). Same products and butterflies as rotation_scalar.c, so the same bits. */
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

/* nv vectors (a power of two <= 16) of 16 floats: multiply, then stages h = 1 .. 8 nv. */
static inline __attribute__((always_inline)) void block(float *x, const float *m, size_t nv) {
  __m512 r[16];
  for (size_t i = 0; i < nv; i++)
    r[i] = fwht16(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), _mm512_loadu_ps(m + 16 * i)));
  for (size_t h = 1; h < nv; h *= 2)
    for (size_t i = 0; i < nv; i += 2 * h)
      for (size_t j = i; j < i + h; j++) {
        __m512 a = r[j], b = r[j + h];
        r[j] = _mm512_add_ps(a, b);
        r[j + h] = _mm512_sub_ps(a, b);
      }
  for (size_t i = 0; i < nv; i++) _mm512_storeu_ps(x + 16 * i, r[i]);
}

void vec_fwht_avx512(float *x, const float *m, size_t p) {
  if (p < 16) {
    vec_fwht_avx2(x, m, p);
    return;
  }
  size_t bs = p < 256 ? p : 256;
  if (bs == 256)
    for (size_t i = 0; i < p; i += bs) block(x + i, m + i, 16); /* constant: all in registers */
  else
    block(x, m, bs / 16);
  for (size_t h = 256; h < p; h *= 2)
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

void vec_kac_avx512(float *x, const float *m, size_t h) {
  size_t i = 0;
  for (; i + 16 <= h; i += 16) {
    __m512 a = _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(m + i));
    __m512 b = _mm512_mul_ps(_mm512_loadu_ps(x + i + h), _mm512_loadu_ps(m + i + h));
    _mm512_storeu_ps(x + i, _mm512_add_ps(a, b));
    _mm512_storeu_ps(x + i + h, _mm512_sub_ps(a, b));
  }
  vec_kac_scalar_tail(x, m, i, h);
}
