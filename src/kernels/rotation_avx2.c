/* rotation_avx2.c: AVX2 kernels of the structured rotation (compiled with -mavx2). Blocks of 128
 * floats go through every stage up to h = 64 in 16 registers; stages with h < 8 run inside a
 * register (a permute brings each butterfly's partner alongside). Same products and butterflies
 * as rotation_scalar.c, so the same bits. */
#include <immintrin.h>

#include "rotation_kernels.h"

/* Stages h = 1, 2, 4 on 8 consecutive floats. With sw the partner of each element, the low
 * element of a pair takes v + sw = a + b and the high one -v + sw = a - b: one FMA with a vector
 * of +-1, which is exact in the product and rounds the sum once, as the add and subtract do. */
static inline __m256 fwht8(__m256 v) {
  const __m256 s1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  const __m256 s2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  const __m256 s4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  v = _mm256_fmadd_ps(v, s1, _mm256_permute_ps(v, 0xB1));
  v = _mm256_fmadd_ps(v, s2, _mm256_permute_ps(v, 0x4E));
  return _mm256_fmadd_ps(v, s4, _mm256_permute2f128_ps(v, v, 0x01));
}

/* Stage h across the registers r[0 .. nv): butterflies (r[j], r[j + h]) for the nv / 2 j with
 * j % 2h < h. Loops of constant trip count, unrolled, so that r stays in registers as far as 16
 * of them allow (every butterfly through the stack otherwise). */
static inline __attribute__((always_inline)) void stage(__m256 *r, size_t nv, size_t h) {
  VEC_UNROLL_FULL
  for (size_t k = 0; k < nv / 2; k++) {
    size_t j = k / h * 2 * h + k % h;
    __m256 a = r[j], b = r[j + h];
    r[j] = _mm256_add_ps(a, b);
    r[j + h] = _mm256_sub_ps(a, b);
  }
}

static inline __attribute__((always_inline)) void block(float *x, const float *m, size_t nv) {
  __m256 r[16];
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++)
    r[i] = fwht8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), _mm256_loadu_ps(m + 8 * i)));
  if (nv > 1) stage(r, nv, 1);
  if (nv > 2) stage(r, nv, 2);
  if (nv > 4) stage(r, nv, 4);
  if (nv > 8) stage(r, nv, 8);
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++) _mm256_storeu_ps(x + 8 * i, r[i]);
}

void vec_rotation_fwht_avx2(float *x, const float *m, size_t p) {
  if (p < 8) {
    vec_rotation_fwht_scalar(x, m, p);
    return;
  }
  /* nv a constant in each call, so that block's loops unroll. */
  switch (p) {
  case 8: block(x, m, 1); break;
  case 16: block(x, m, 2); break;
  case 32: block(x, m, 4); break;
  case 64: block(x, m, 8); break;
  default:
    for (size_t i = 0; i < p; i += 128) block(x + i, m + i, 16);
  }
  for (size_t h = 128; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += 8) {
        __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
        _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
        _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
      }
}

void vec_rotation_vmul_avx2(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(m + i)));
  for (; i < n; i++) x[i] *= m[i];
}

void vec_rotation_kac_avx2(float *x, const float *m, size_t h) {
  size_t i = 0;
  for (; i + 8 <= h; i += 8) {
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(m + i));
    __m256 b = _mm256_mul_ps(_mm256_loadu_ps(x + i + h), _mm256_loadu_ps(m + i + h));
    _mm256_storeu_ps(x + i, _mm256_add_ps(a, b));
    _mm256_storeu_ps(x + i + h, _mm256_sub_ps(a, b));
  }
  vec_rotation_kac_scalar_tail(x, m, i, h);
}
