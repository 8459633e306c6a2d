/* pq_avx2.c: 4-bit PQ fast-scan with AVX2: per code byte of 32 rows, two pshufb look-ups (the low
 * and the high nibble's subspace) whose bytes are widened into even-row and odd-row uint16 sums. */
#include <immintrin.h>

#include "pq_kernels.h"

void vec_pq4_scan_avx2(const uint8_t *blk, size_t npairs, const uint8_t *lut, uint16_t *out) {
  const __m256i nib = _mm256_set1_epi8(0x0f), lowb = _mm256_set1_epi16(0x00ff);
  __m256i ev = _mm256_setzero_si256(), od = _mm256_setzero_si256();
  for (size_t j = 0; j < npairs; j++) {
    __m256i c = _mm256_loadu_si256((const __m256i *)(blk + j * 32));
    __m256i tl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(lut + j * 32)));
    __m256i th = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(lut + j * 32 + 16)));
    __m256i va = _mm256_shuffle_epi8(tl, _mm256_and_si256(c, nib));
    __m256i vb = _mm256_shuffle_epi8(th, _mm256_and_si256(_mm256_srli_epi16(c, 4), nib));
    ev = _mm256_add_epi16(ev,
                          _mm256_add_epi16(_mm256_and_si256(va, lowb), _mm256_and_si256(vb, lowb)));
    od = _mm256_add_epi16(od, _mm256_add_epi16(_mm256_srli_epi16(va, 8), _mm256_srli_epi16(vb, 8)));
  }
  /* uint16 lane i of ev holds byte 2i of the block (row 2i), of od row 2i + 1. */
  uint16_t e[16], o[16];
  _mm256_storeu_si256((__m256i *)e, ev);
  _mm256_storeu_si256((__m256i *)o, od);
  for (int i = 0; i < 16; i++) out[2 * i] = e[i], out[2 * i + 1] = o[i];
}
