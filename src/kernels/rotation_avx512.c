/* rotation_avx512.c: AVX-512 kernels of the structured rotation (compiled with -mavx512f). Blocks
 * of 256 floats go through every stage up to h = 128 in 16 registers (one load and one store per
 * element); stages with h < 16 run inside a register (a permute brings each butterfly's partner
 * alongside). Same products and butterflies as rotation_scalar.c, so the same bits. */
#include <immintrin.h>

#include "rotation_kernels.h"

/* Stages h = 1, 2, 4, 8 on 16 consecutive floats. With sw the partner of each element, the low
 * element of a pair takes v + sw = a + b and the high one -v + sw = a - b: one FMA with a vector
 * of +-1, which is exact in the product and rounds the sum once, as the add and subtract do. */
static inline __m512 fwht16(__m512 v) {
  const __m512 s1 = _mm512_setr_ps(1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1);
  const __m512 s2 = _mm512_setr_ps(1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1);
  const __m512 s4 = _mm512_setr_ps(1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1);
  const __m512 s8 = _mm512_setr_ps(1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1);
  v = _mm512_fmadd_ps(v, s1, _mm512_permute_ps(v, 0xB1));
  v = _mm512_fmadd_ps(v, s2, _mm512_permute_ps(v, 0x4E));
  v = _mm512_fmadd_ps(v, s4, _mm512_shuffle_f32x4(v, v, 0xB1));
  return _mm512_fmadd_ps(v, s8, _mm512_shuffle_f32x4(v, v, 0x4E));
}

/* Stage h across the registers r[0 .. nv): butterflies (r[j], r[j + h]) for the nv / 2 j with
 * j % 2h < h. Loops of constant trip count, unrolled, so that r stays in registers (spilled to the
 * stack otherwise, a load and a store per butterfly). */
static inline __attribute__((always_inline)) void stage(__m512 *r, size_t nv, size_t h) {
  VEC_UNROLL_FULL
  for (size_t k = 0; k < nv / 2; k++) {
    size_t j = k / h * 2 * h + k % h;
    __m512 a = r[j], b = r[j + h];
    r[j] = _mm512_add_ps(a, b);
    r[j + h] = _mm512_sub_ps(a, b);
  }
}

/* nv vectors (a power of two <= 16) of 16 floats: multiply, then stages h = 1 .. 8 nv. */
static inline __attribute__((always_inline)) void block(float *x, const float *m, size_t nv) {
  __m512 r[16];
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++)
    r[i] = fwht16(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), _mm512_loadu_ps(m + 16 * i)));
  if (nv > 1) stage(r, nv, 1);
  if (nv > 2) stage(r, nv, 2);
  if (nv > 4) stage(r, nv, 4);
  if (nv > 8) stage(r, nv, 8);
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++) _mm512_storeu_ps(x + 16 * i, r[i]);
}

void vec_rotation_fwht_avx512(float *x, const float *m, size_t p) {
  if (p < 16) {
    vec_rotation_fwht_avx2(x, m, p);
    return;
  }
  /* nv a constant in each call, so that block's loops unroll and r stays in registers. */
  switch (p) {
  case 16: block(x, m, 1); break;
  case 32: block(x, m, 2); break;
  case 64: block(x, m, 4); break;
  case 128: block(x, m, 8); break;
  default:
    for (size_t i = 0; i < p; i += 256) block(x + i, m + i, 16);
  }
  for (size_t h = 256; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 16) {
        __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + h);
        _mm512_storeu_ps(x + j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(x + j + h, _mm512_sub_ps(a, b));
      }
}

void vec_rotation_vmul_avx512(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(m + i)));
  vec_rotation_vmul_avx2(x + i, m + i, n - i);
}

void vec_rotation_kac_avx512(float *x, const float *m, size_t h) {
  size_t i = 0;
  for (; i + 16 <= h; i += 16) {
    __m512 a = _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(m + i));
    __m512 b = _mm512_mul_ps(_mm512_loadu_ps(x + i + h), _mm512_loadu_ps(m + i + h));
    _mm512_storeu_ps(x + i, _mm512_add_ps(a, b));
    _mm512_storeu_ps(x + i + h, _mm512_sub_ps(a, b));
  }
  vec_rotation_kac_scalar_tail(x, m, i, h);
}
