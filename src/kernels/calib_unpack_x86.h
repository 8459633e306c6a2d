/* calib_unpack_x86.h: the 256-bit unpacking of uint4-cal / uint6-cal rows, compiled into both
 * x86 kernel files (AVX2 flags, AVX-512 flags); included by those files only. */
#ifndef VECTRO_CALIB_UNPACK_X86_H
#define VECTRO_CALIB_UNPACK_X86_H

#include <immintrin.h>

#include "calib_unpack_kernels.h"

static inline void lb_unpack_rows_256(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                      unsigned bits, uint8_t *out) {
  const __m256i m4 = _mm256_set1_epi8(15);
  /* 6 bits: each 128-bit lane takes 12 bytes, 3 to a dword (b0 b1 b2 0), then moves level i of
   * the 24-bit word w to byte i: (w & 63) | (w << 2 & 63 << 8) | (w << 4 & 63 << 16) | ... */
  const __m256i shuf = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1,
                                        2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m256i k0 = _mm256_set1_epi32(0x3F), k1 = _mm256_set1_epi32(0x3F00),
                k2 = _mm256_set1_epi32(0x3F0000), k3 = _mm256_set1_epi32(0x3F000000);
  for (size_t r = 0; r < n; r++) {
    const uint8_t *q = codes + r * cs;
    uint8_t *t = out + r * d;
    size_t k = 0;
    if (bits == 4) {
      for (; k + 64 <= d; k += 64) { /* 32 bytes in, 64 levels out */
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + k / 2));
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        __m256i a = _mm256_unpacklo_epi8(lo, hi), b = _mm256_unpackhi_epi8(lo, hi);
        _mm256_storeu_si256((__m256i *)(t + k), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(t + k + 32), _mm256_permute2x128_si256(a, b, 0x31));
      }
    } else {
      /* 24 bytes in (two 16-byte loads 12 apart: 28 bytes read), 32 levels out */
      for (; k + 32 <= d && k / 4 * 3 + 28 <= cs; k += 32) {
        const uint8_t *b = q + k / 4 * 3;
        __m256i v =
            _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b)),
                                    _mm_loadu_si128((const __m128i *)(b + 12)), 1);
        __m256i w = _mm256_shuffle_epi8(v, shuf);
        __m256i o = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(w, k0), _mm256_and_si256(_mm256_slli_epi32(w, 2), k1)),
            _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi32(w, 4), k2),
                            _mm256_and_si256(_mm256_slli_epi32(w, 6), k3)));
        _mm256_storeu_si256((__m256i *)(t + k), o);
      }
    }
    vec_cal_unpack_row_from(q, cs, d, bits, k, t);
  }
}

#endif
