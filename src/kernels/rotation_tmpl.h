/* rotation_tmpl.h: the x86 kernels of the structured rotation, written once for W = VEC_W lanes:
 * rotation_avx2.c and rotation_avx512.c include it after x86_vec.h. Blocks of 16 W floats go
 * through every stage up to h = 8 W in 16 registers (one load and one store per element); stages
 * with h < W run inside a register (a permute brings each butterfly's partner alongside). Same
 * products and butterflies as rotation_scalar.c, so the same bits. */
#include "rotation_kernels.h"
#include "x86_vec.h"

/* Stages h = 1, 2, 4 (, 8) on W consecutive floats. With sw the partner of each element, the low
 * element of a pair takes v + sw = a + b and the high one -v + sw = a - b: one FMA with a vector
 * of +-1, which is exact in the product and rounds the sum once, as the add and subtract do. */
#if VEC_W == 8
VX_INLINE vf fwht_w(vf v) {
  const __m256 s1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
  const __m256 s2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
  const __m256 s4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
  v = _mm256_fmadd_ps(v, s1, _mm256_permute_ps(v, 0xB1));
  v = _mm256_fmadd_ps(v, s2, _mm256_permute_ps(v, 0x4E));
  return _mm256_fmadd_ps(v, s4, _mm256_permute2f128_ps(v, v, 0x01));
}
#define ROT_NARROW(op) vec_rotation_##op##_scalar /* rows shorter than a vector */
#else
VX_INLINE vf fwht_w(vf v) {
  const __m512 s1 = _mm512_setr_ps(1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1);
  const __m512 s2 = _mm512_setr_ps(1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1);
  const __m512 s4 = _mm512_setr_ps(1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1);
  const __m512 s8 = _mm512_setr_ps(1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1);
  v = _mm512_fmadd_ps(v, s1, _mm512_permute_ps(v, 0xB1));
  v = _mm512_fmadd_ps(v, s2, _mm512_permute_ps(v, 0x4E));
  v = _mm512_fmadd_ps(v, s4, _mm512_shuffle_f32x4(v, v, 0xB1));
  return _mm512_fmadd_ps(v, s8, _mm512_shuffle_f32x4(v, v, 0x4E));
}
#define ROT_NARROW(op) vec_rotation_##op##_avx2
#endif

/* Stage h across the registers r[0 .. nv): butterflies (r[j], r[j + h]) for the nv / 2 j with
 * j % 2h < h. Loops of constant trip count, unrolled, so that r stays in registers as far as 16
 * of them allow (every butterfly through the stack otherwise). */
VX_INLINE void stage(vf *r, size_t nv, size_t h) {
  VEC_UNROLL_FULL
  for (size_t k = 0; k < nv / 2; k++) {
    size_t j = k / h * 2 * h + k % h;
    vf a = r[j], b = r[j + h];
    r[j] = vf_add(a, b);
    r[j + h] = vf_sub(a, b);
  }
}

/* nv vectors (a power of two <= 16) of W floats: multiply, then stages h = 1 .. W nv / 2. */
VX_INLINE void block(float *x, const float *m, size_t nv) {
  vf r[16];
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++)
    r[i] = fwht_w(vf_mul(vf_loadu(x + VEC_W * i), vf_loadu(m + VEC_W * i)));
  if (nv > 1) stage(r, nv, 1);
  if (nv > 2) stage(r, nv, 2);
  if (nv > 4) stage(r, nv, 4);
  if (nv > 8) stage(r, nv, 8);
  VEC_UNROLL_FULL
  for (size_t i = 0; i < nv; i++) vf_storeu(x + VEC_W * i, r[i]);
}

void VEC_SFX(vec_rotation_fwht_)(float *x, const float *m, size_t p) {
  if (p < VEC_W) {
    ROT_NARROW(fwht)(x, m, p);
    return;
  }
  /* nv a constant in each call, so that block's loops unroll and r stays in registers. */
  switch (p / VEC_W) {
  case 1: block(x, m, 1); break;
  case 2: block(x, m, 2); break;
  case 4: block(x, m, 4); break;
  case 8: block(x, m, 8); break;
  default:
    for (size_t i = 0; i < p; i += 16 * VEC_W) block(x + i, m + i, 16);
  }
  for (size_t h = 16 * VEC_W; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j += VEC_W) {
        vf a = vf_loadu(x + j), b = vf_loadu(x + j + h);
        vf_storeu(x + j, vf_add(a, b));
        vf_storeu(x + j + h, vf_sub(a, b));
      }
}

void VEC_SFX(vec_rotation_vmul_)(float *x, const float *m, size_t n) {
  size_t i = 0;
  for (; i + VEC_W <= n; i += VEC_W) vf_storeu(x + i, vf_mul(vf_loadu(x + i), vf_loadu(m + i)));
  ROT_NARROW(vmul)(x + i, m + i, n - i);
}

void VEC_SFX(vec_rotation_kac_)(float *x, const float *m, size_t h) {
  size_t i = 0;
  for (; i + VEC_W <= h; i += VEC_W) {
    vf a = vf_mul(vf_loadu(x + i), vf_loadu(m + i));
    vf b = vf_mul(vf_loadu(x + i + h), vf_loadu(m + i + h));
    vf_storeu(x + i, vf_add(a, b));
    vf_storeu(x + i + h, vf_sub(a, b));
  }
  vec_rotation_kac_tail_scalar(x, m, i, h);
}
