/* pq_scalar.c: the reference 4-bit fast-scan sums (one query, several) and block transpose. */
#include <string.h>

#include "pq_kernels.h"

void vec_pq_scan4_scalar(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                         float delta, float *out) {
  for (size_t r = 0; r < VEC_PQ4_BLOCK; r++) {
    unsigned s = 0;
    for (size_t j = 0; j < npairs; j++) {
      uint8_t b = blk[j * VEC_PQ4_BLOCK + r];
      s += lut[j * 32 + (b & 15)] + lut[j * 32 + 16 + (b >> 4)];
    }
    out[r] = bias + delta * (float)(uint16_t)s;
  }
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* 16 rows x 16 bytes (row stride ld) to dst[col * 32 + row]: four rounds of pairwise unpacks
 * (bytes, words, dwords, qwords) leave column j in register bitreverse4(j). */
static void transpose16(const uint8_t *src, size_t ld, uint8_t *dst) {
  __m128i a[16], b[16];
  for (int i = 0; i < 16; i++) a[i] = _mm_loadu_si128((const __m128i *)(src + (size_t)i * ld));
  for (int i = 0; i < 8; i++) {
    b[i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
    b[i + 8] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
  }
  for (int i = 0; i < 8; i++) {
    a[i] = _mm_unpacklo_epi16(b[2 * i], b[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi16(b[2 * i], b[2 * i + 1]);
  }
  for (int i = 0; i < 8; i++) {
    b[i] = _mm_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
    b[i + 8] = _mm_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
  }
  for (int i = 0; i < 8; i++) {
    a[i] = _mm_unpacklo_epi64(b[2 * i], b[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi64(b[2 * i], b[2 * i + 1]);
  }
  static const int rev[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  for (int k = 0; k < 16; k++) _mm_storeu_si128((__m128i *)(dst + rev[k] * 32), a[k]);
}
#endif

/* SSE2 is part of x86-64, so even the "scalar" build transposes in 16 x 16 tiles there; the last
 * tile overlaps the one before where cs is not a multiple of 16 (columns written twice get the
 * same bytes). */
void vec_pq_pack4_scalar(const uint8_t *codes, size_t cs, uint8_t *blk) {
#if defined(__SSE2__)
  for (size_t c0 = 0;; c0 += 16) {
    if (c0 + 16 > cs) c0 = cs - 16;
    transpose16(codes + c0, cs, blk + c0 * 32);
    transpose16(codes + 16 * cs + c0, cs, blk + c0 * 32 + 16);
    if (c0 + 16 >= cs) break;
  }
#else
  for (size_t r = 0; r < VEC_PQ4_BLOCK; r++)
    for (size_t b = 0; b < cs; b++) blk[b * VEC_PQ4_BLOCK + r] = codes[r * cs + b];
#endif
}

/* One query at a time through the scalar single-query kernel. */
void vec_pq_scanq4_scalar(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                          const float *bias, const float *delta, size_t nq, float *out,
                          size_t ldo) {
  for (size_t i = 0; i < nq; i++)
    vec_pq_scan4_scalar(blk, npairs, lut + i * ls, bias[i], delta[i], out + i * ldo);
}
