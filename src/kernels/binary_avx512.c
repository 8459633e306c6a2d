/* binary_avx512.c: AVX-512 F/BW/VL kernels of the binary (sign-bit) codec. Compares write mask
 * registers directly, so 64 elements become one 64-bit word of codes. The one partial vector per
 * row uses a masked load/store: masked-off lanes never fault (guard pages stay untouched), they
 * compare false, so pad bits come out 0, and rows shorter than 16 need no scalar fallback. */
#include <immintrin.h>
#include <string.h>

#include "binary_kernels.h"

/* Sign bits of 16 floats, element k in bit k, and the running max of |x| bits (NaN/Inf check).
 * _CMP_GT_OQ: NaN compares false without raising; 0.0 and -0.0 are not > 0. */
static inline uint64_t gt0_mask(__m512 v, __m512i *amax) {
  const __m512i abs = _mm512_set1_epi32((int)VEC_B1_ABS_MASK);
  *amax = _mm512_max_epu32(*amax, _mm512_and_si512(_mm512_castps_si512(v), abs));
  return (uint64_t)_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
}

size_t vec_binary_encode_avx512(const float *x, size_t n, size_t d, size_t ldx, uint8_t *codes,
                                size_t ldc, unsigned flags) {
  (void)flags; /* codes are 1/32 of the input: streaming them would gain nothing */
  const __m512i finite_max = _mm512_set1_epi32((int)(VEC_B1_NONFINITE - 1));
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *c = codes + i * ldc;
    __m512i amax = _mm512_setzero_si512();
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
      uint64_t m = gt0_mask(_mm512_loadu_ps(row + j), &amax);
      m |= gt0_mask(_mm512_loadu_ps(row + j + 16), &amax) << 16;
      m |= gt0_mask(_mm512_loadu_ps(row + j + 32), &amax) << 32;
      m |= gt0_mask(_mm512_loadu_ps(row + j + 48), &amax) << 48;
      m = vec_b1_rev_bits_in_bytes(m);
      memcpy(c + j / 8, &m, 8); /* little-endian: byte 0 holds elements j..j+7 */
    }
    for (; j + 16 <= d; j += 16) {
      uint16_t m = (uint16_t)vec_b1_rev_bits_in_bytes(gt0_mask(_mm512_loadu_ps(row + j), &amax));
      memcpy(c + j / 8, &m, 2);
    }
    if (j < d) {
      size_t r = d - j;
      __mmask16 live = (__mmask16)((1u << r) - 1);
      uint64_t m = vec_b1_rev_bits_in_bytes(gt0_mask(_mm512_maskz_loadu_ps(live, row + j), &amax));
      memcpy(c + j / 8, &m, (r + 7) / 8);
    }
    if (_mm512_cmpgt_epu32_mask(amax, finite_max)) return i;
  }
  return n;
}

static inline void put16(float *p, __m512 v, int stream) {
  if (stream)
    _mm512_stream_ps(p, v);
  else
    _mm512_storeu_ps(p, v);
}

void vec_binary_decode_avx512(const uint8_t *codes, size_t n, size_t d, size_t ldc, float *out,
                              size_t ldo, unsigned flags) {
  const __m512 plus = _mm512_set1_ps(1.0f), minus = _mm512_set1_ps(-1.0f);
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *c = codes + i * ldc;
    float *o = out + i * ldo;
    /* Non-temporal stores only on whole aligned rows (no masked tail). */
    int stream = (flags & VEC_KF_STREAM) && d % 16 == 0 && ((uintptr_t)o & 63) == 0;
    streamed |= stream;
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
      uint64_t w;
      memcpy(&w, c + j / 8, 8);
      w = vec_b1_rev_bits_in_bytes(w); /* element j + t now in bit t: a ready-made blend mask */
      put16(o + j, _mm512_mask_blend_ps((__mmask16)w, minus, plus), stream);
      put16(o + j + 16, _mm512_mask_blend_ps((__mmask16)(w >> 16), minus, plus), stream);
      put16(o + j + 32, _mm512_mask_blend_ps((__mmask16)(w >> 32), minus, plus), stream);
      put16(o + j + 48, _mm512_mask_blend_ps((__mmask16)(w >> 48), minus, plus), stream);
    }
    for (; j + 16 <= d; j += 16) {
      uint16_t w;
      memcpy(&w, c + j / 8, 2);
      __mmask16 k = (__mmask16)vec_b1_rev_bits_in_bytes(w);
      put16(o + j, _mm512_mask_blend_ps(k, minus, plus), stream);
    }
    if (j < d) {
      size_t r = d - j;
      uint64_t w = 0;
      memcpy(&w, c + j / 8, (r + 7) / 8); /* the row's last code bytes, never past them */
      __mmask16 k = (__mmask16)vec_b1_rev_bits_in_bytes(w);
      _mm512_mask_storeu_ps(o + j, (__mmask16)((1u << r) - 1),
                            _mm512_mask_blend_ps(k, minus, plus));
    }
  }
  if (streamed) _mm_sfence();
}
