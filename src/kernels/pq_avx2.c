/* pq_avx2.c: 4-bit PQ fast-scan with AVX2: per code byte of 32 rows, two pshufb look-ups (the low
 * and the high nibble's subspace), added as bytes and widened into even-row and odd-row uint16
 * sums, for up to VEC_PQ4_QB queries per code load; and the 32-row block transpose, both 16-row
 * halves at once in the two 128-bit lanes. */
#include <immintrin.h>

#include "pq_kernels.h"

static inline void put8(__m128i u16, __m256 b, __m256 dl, float *out) {
  __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(u16));
  _mm256_storeu_ps(out, _mm256_add_ps(b, _mm256_mul_ps(dl, f)));
}

/* nq is a constant at each call site, so the query loops unroll into registers. */
static inline __attribute__((always_inline)) void scanq(const uint8_t *blk, size_t npairs,
                                                        const uint8_t *lut, size_t ls,
                                                        const float *bias, const float *delta,
                                                        const size_t nq, float *out, size_t ldo) {
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i ev[VEC_PQ4_QB], od[VEC_PQ4_QB];
  for (size_t i = 0; i < nq; i++) ev[i] = od[i] = _mm256_setzero_si256();
  for (size_t j = 0; j < npairs; j++) {
    __m256i c = _mm256_loadu_si256((const __m256i *)(blk + j * 32));
    __m256i cl = _mm256_and_si256(c, nib), ch = _mm256_and_si256(_mm256_srli_epi16(c, 4), nib);
    for (size_t i = 0; i < nq; i++) {
      const uint8_t *t = lut + i * ls + j * 32;
      __m256i tl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
      __m256i th = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(t + 16)));
      /* the pair's two look-ups sum to <= 255 (pq_kernels.h): added as bytes, widened once */
      __m256i v = _mm256_add_epi8(_mm256_shuffle_epi8(tl, cl), _mm256_shuffle_epi8(th, ch));
      ev[i] = _mm256_add_epi16(ev[i], v); /* odd bytes too: taken out at the end */
      od[i] = _mm256_add_epi16(od[i], _mm256_srli_epi16(v, 8));
    }
  }
  for (size_t i = 0; i < nq; i++) {
    /* ev summed whole 16-bit lanes: even bytes + 256 * odd bytes (mod 2^16); od holds the odd
     * bytes' sums, so ev - 256 od is the even bytes' exact sum (FAISS's trick: no masking per
     * step). uint16 lane i of ev then holds row 2i, of od row 2i + 1: interleaving puts rows
     * 0-7 | 16-23 in lo and 8-15 | 24-31 in hi. */
    __m256i e = _mm256_sub_epi16(ev[i], _mm256_slli_epi16(od[i], 8));
    __m256i lo = _mm256_unpacklo_epi16(e, od[i]), hi = _mm256_unpackhi_epi16(e, od[i]);
    __m256 b = _mm256_set1_ps(bias[i]), dl = _mm256_set1_ps(delta[i]);
    float *o = out + i * ldo;
    put8(_mm256_castsi256_si128(lo), b, dl, o);
    put8(_mm256_castsi256_si128(hi), b, dl, o + 8);
    put8(_mm256_extracti128_si256(lo, 1), b, dl, o + 16);
    put8(_mm256_extracti128_si256(hi, 1), b, dl, o + 24);
  }
}

void vec_pq_scan4_avx2(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                       float delta, float *out) {
  scanq(blk, npairs, lut, 0, &bias, &delta, 1, out, 0);
}

void vec_pq_scanq4_avx2(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                        const float *bias, const float *delta, size_t nq, float *out, size_t ldo) {
  switch (nq) {
  case 1: scanq(blk, npairs, lut, ls, bias, delta, 1, out, ldo); break;
  case 2: scanq(blk, npairs, lut, ls, bias, delta, 2, out, ldo); break;
  case 3: scanq(blk, npairs, lut, ls, bias, delta, 3, out, ldo); break;
  default: scanq(blk, npairs, lut, ls, bias, delta, 4, out, ldo); break;
  }
}

void vec_pq_pack4_avx2(const uint8_t *codes, size_t cs, uint8_t *blk) {
  static const int rev[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  for (size_t c0 = 0;; c0 += 16) {
    if (c0 + 16 > cs) c0 = cs - 16; /* overlap the previous tile: same bytes written twice */
    __m256i a[16], t[16];
    for (int i = 0; i < 16; i++) {
      const uint8_t *p = codes + (size_t)i * cs + c0;
      a[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                     _mm_loadu_si128((const __m128i *)(p + 16 * cs)), 1);
    }
    for (int i = 0; i < 8; i++) {
      t[i] = _mm256_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
      t[i + 8] = _mm256_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
      a[i] = _mm256_unpacklo_epi16(t[2 * i], t[2 * i + 1]);
      a[i + 8] = _mm256_unpackhi_epi16(t[2 * i], t[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
      t[i] = _mm256_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
      t[i + 8] = _mm256_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
      a[i] = _mm256_unpacklo_epi64(t[2 * i], t[2 * i + 1]);
      a[i + 8] = _mm256_unpackhi_epi64(t[2 * i], t[2 * i + 1]);
    }
    for (int k = 0; k < 16; k++)
      _mm256_storeu_si256((__m256i *)(blk + (c0 + (size_t)rev[k]) * 32), a[k]);
    if (c0 + 16 >= cs) break;
  }
}
