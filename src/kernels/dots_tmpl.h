/* dots_tmpl.h: the flat search's float dot products (search_kernels.h), written once for W = VEC_W
 * lanes: search_avx2.c and search_avx512.c define VEC_W and include it. Each row keeps two W-lane
 * accumulators (lanes j mod 2W) reduced in a fixed order, whether it is scored in a block of four
 * or alone; the tail is a zero-filled masked load, and q * 0 adds exactly nothing. */
#include "search_kernels.h"
#include "x86_vec.h"

#define ROW(r) VEC_DOTS_ROW(rows, ld, idx, r)

/* The last rem < 2W elements as two zero-padded vectors: AVX2 masks by a sliding window of a
 * constant table (a row shorter than W needs no second load), AVX-512 by mask registers. */
#if VEC_W == 8
typedef struct {
  size_t rem;
} tail2;
VX_INLINE tail2 tail2_init(size_t rem) { return (tail2){rem}; }
VX_INLINE __m256 tail_mask_load(const float *p, size_t rem) {
  static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(m + 8 - rem)));
}
VX_INLINE void tail2_load(const float *p, tail2 t, vf *lo, vf *hi) {
  if (t.rem >= 8) {
    *lo = _mm256_loadu_ps(p);
    *hi = t.rem > 8 ? tail_mask_load(p + 8, t.rem - 8) : _mm256_setzero_ps();
  } else {
    *lo = t.rem ? tail_mask_load(p, t.rem) : _mm256_setzero_ps();
    *hi = _mm256_setzero_ps();
  }
}
/* a + b, then its lanes summed in a fixed order. */
VX_INLINE float reduce(__m256 a, __m256 b) {
  __m256 s = _mm256_add_ps(a, b);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}
#else
typedef struct {
  __mmask16 lo, hi;
} tail2;
VX_INLINE tail2 tail2_init(size_t rem) {
  return (tail2){(__mmask16)(rem >= 16 ? 0xFFFFu : (1u << rem) - 1u),
                 (__mmask16)(rem > 16 ? (1u << (rem - 16)) - 1u : 0u)};
}
VX_INLINE void tail2_load(const float *p, tail2 t, vf *lo, vf *hi) {
  *lo = _mm512_maskz_loadu_ps(t.lo, p);
  *hi = _mm512_maskz_loadu_ps(t.hi, p + 16);
}
VX_INLINE float reduce(__m512 a, __m512 b) {
  __m512 s = _mm512_add_ps(a, b);
  __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(s),
                            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}
#endif

/* One row's tail into its two accumulators. */
VX_INLINE void tail_fma(const float *x, tail2 t, vf qlo, vf qhi, vf *a, vf *b) {
  vf lo, hi;
  tail2_load(x, t, &lo, &hi);
  *a = vf_fmadd(qlo, lo, *a);
  *b = vf_fmadd(qhi, hi, *b);
}

void VEC_SFX(vec_search_dots_)(const float *q, const float *rows, size_t ld, const uint64_t *idx,
                               size_t nr, size_t d, float *out) {
  const size_t dn = d & ~(size_t)(2 * VEC_W - 1), rem = d - dn;
  const tail2 t = tail2_init(rem);
  vf qlo, qhi;
  tail2_load(q + dn, t, &qlo, &qhi);
  size_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const float *x0 = ROW(r), *x1 = ROW(r + 1), *x2 = ROW(r + 2), *x3 = ROW(r + 3);
    vf a0 = vf_zero(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    for (size_t j = 0; j < dn; j += 2 * VEC_W) {
      vf u = vf_loadu(q + j), v = vf_loadu(q + j + VEC_W);
      a0 = vf_fmadd(u, vf_loadu(x0 + j), a0);
      b0 = vf_fmadd(v, vf_loadu(x0 + j + VEC_W), b0);
      a1 = vf_fmadd(u, vf_loadu(x1 + j), a1);
      b1 = vf_fmadd(v, vf_loadu(x1 + j + VEC_W), b1);
      a2 = vf_fmadd(u, vf_loadu(x2 + j), a2);
      b2 = vf_fmadd(v, vf_loadu(x2 + j + VEC_W), b2);
      a3 = vf_fmadd(u, vf_loadu(x3 + j), a3);
      b3 = vf_fmadd(v, vf_loadu(x3 + j + VEC_W), b3);
    }
    if (rem) {
      tail_fma(x0 + dn, t, qlo, qhi, &a0, &b0);
      tail_fma(x1 + dn, t, qlo, qhi, &a1, &b1);
      tail_fma(x2 + dn, t, qlo, qhi, &a2, &b2);
      tail_fma(x3 + dn, t, qlo, qhi, &a3, &b3);
    }
    out[r] = reduce(a0, b0);
    out[r + 1] = reduce(a1, b1);
    out[r + 2] = reduce(a2, b2);
    out[r + 3] = reduce(a3, b3);
  }
  for (; r < nr; r++) {
    const float *x0 = ROW(r);
    vf a0 = vf_zero(), b0 = a0;
    for (size_t j = 0; j < dn; j += 2 * VEC_W) {
      a0 = vf_fmadd(vf_loadu(q + j), vf_loadu(x0 + j), a0);
      b0 = vf_fmadd(vf_loadu(q + j + VEC_W), vf_loadu(x0 + j + VEC_W), b0);
    }
    if (rem) tail_fma(x0 + dn, t, qlo, qhi, &a0, &b0);
    out[r] = reduce(a0, b0);
  }
}
