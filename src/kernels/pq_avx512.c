/* pq_avx512.c: 4-bit PQ fast-scan with AVX-512BW: two code bytes (four subspaces) of 32 rows per
 * 512-bit register, the two tables of each placed in its 128-bit lanes by one lane shuffle; the
 * halves are folded at the end, an odd last byte takes one 256-bit step. Up to VEC_PQ4_QB queries
 * share each code load and its nibble masks. */
#include <immintrin.h>

#include "pq_kernels.h"

/* The odd last byte, the fold of even/odd lanes and the float conversion of one query. */
static inline void finish(__m512i ev, __m512i od, const uint8_t *blk, size_t j, size_t npairs,
                          const uint8_t *lut, float bias, float delta, float *out) {
  __m256i e2 = _mm256_add_epi16(_mm512_castsi512_si256(ev), _mm512_extracti64x4_epi64(ev, 1));
  __m256i o2 = _mm256_add_epi16(_mm512_castsi512_si256(od), _mm512_extracti64x4_epi64(od, 1));
  if (j < npairs) {
    const __m256i n2 = _mm256_set1_epi8(0x0f);
    __m256i c = _mm256_loadu_si256((const __m256i *)(blk + j * 32));
    __m256i tl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(lut + j * 32)));
    __m256i th = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(lut + j * 32 + 16)));
    __m256i va = _mm256_shuffle_epi8(tl, _mm256_and_si256(c, n2));
    __m256i vb = _mm256_shuffle_epi8(th, _mm256_and_si256(_mm256_srli_epi16(c, 4), n2));
    e2 = _mm256_add_epi16(e2, _mm256_add_epi16(va, vb));
    o2 = _mm256_add_epi16(o2, _mm256_add_epi16(_mm256_srli_epi16(va, 8), _mm256_srli_epi16(vb, 8)));
  }
  /* e2 summed whole 16-bit lanes (even bytes + 256 * odd bytes, mod 2^16): take the odd out. */
  e2 = _mm256_sub_epi16(e2, _mm256_slli_epi16(o2, 8));
  /* Rows 2i in e2's lane i, 2i + 1 in o2's: interleave, then put the 128-bit halves in order. */
  __m256i lo = _mm256_unpacklo_epi16(e2, o2), hi = _mm256_unpackhi_epi16(e2, o2);
  __m256i r0 = _mm256_permute2x128_si256(lo, hi, 0x20),
          r1 = _mm256_permute2x128_si256(lo, hi, 0x31);
  __m512 b = _mm512_set1_ps(bias), dl = _mm512_set1_ps(delta);
  __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(r0));
  __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(r1));
  _mm512_storeu_ps(out, _mm512_add_ps(b, _mm512_mul_ps(dl, f0)));
  _mm512_storeu_ps(out + 16, _mm512_add_ps(b, _mm512_mul_ps(dl, f1)));
}

/* nq is a constant at each call site, so the query loops unroll into registers. */
static inline __attribute__((always_inline)) void scanq(const uint8_t *blk, size_t npairs,
                                                        const uint8_t *lut, size_t ls,
                                                        const float *bias, const float *delta,
                                                        const size_t nq, float *out, size_t ldo) {
  const __m512i nib = _mm512_set1_epi8(0x0f);
  __m512i ev[VEC_PQ4_QB], od[VEC_PQ4_QB];
  for (size_t i = 0; i < nq; i++) ev[i] = od[i] = _mm512_setzero_si512();
  size_t j = 0;
  for (; j + 2 <= npairs; j += 2) {
    __m512i c = _mm512_loadu_si512(blk + j * 32);
    __m512i cl = _mm512_and_si512(c, nib), ch = _mm512_and_si512(_mm512_srli_epi16(c, 4), nib);
    for (size_t i = 0; i < nq; i++) {
      __m512i t = _mm512_loadu_si512(lut + i * ls + j * 32); /* lo_j, hi_j, lo_j+1, hi_j+1 */
      __m512i tl = _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(2, 2, 0, 0));
      __m512i th = _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(3, 3, 1, 1));
      __m512i va = _mm512_shuffle_epi8(tl, cl), vb = _mm512_shuffle_epi8(th, ch);
      /* odd bytes too: taken out at the end */
      ev[i] = _mm512_add_epi16(ev[i], _mm512_add_epi16(va, vb));
      od[i] = _mm512_add_epi16(
          od[i], _mm512_add_epi16(_mm512_srli_epi16(va, 8), _mm512_srli_epi16(vb, 8)));
    }
  }
  for (size_t i = 0; i < nq; i++)
    finish(ev[i], od[i], blk, j, npairs, lut + i * ls, bias[i], delta[i], out + i * ldo);
}

void vec_pq4_scan_avx512(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                         float delta, float *out) {
  scanq(blk, npairs, lut, 0, &bias, &delta, 1, out, 0);
}

void vec_pq4_scanq_avx512(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                          const float *bias, const float *delta, size_t nq, float *out,
                          size_t ldo) {
  switch (nq) {
  case 1: scanq(blk, npairs, lut, ls, bias, delta, 1, out, ldo); break;
  case 2: scanq(blk, npairs, lut, ls, bias, delta, 2, out, ldo); break;
  case 3: scanq(blk, npairs, lut, ls, bias, delta, 3, out, ldo); break;
  default: scanq(blk, npairs, lut, ls, bias, delta, 4, out, ldo); break;
  }
}
