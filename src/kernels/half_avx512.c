/* half_avx512.c: AVX-512 F/BW/VL kernels for f16 and bf16: avx2's structure at twice the width
 * (rows shorter than 16 go to the AVX2 kernels); tails overlap instead of masking. */
#include <immintrin.h>

#include "half_kernels.h"

#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) /* see half_avx2.c */

static inline __m512i abs_bits(__m512i u) {
  return _mm512_and_si512(u, _mm512_set1_epi32((int)VEC_HALF_ABS_MASK));
}

/* 16 floats -> 16 half codes; folds their |x| bits into *mx. */
static inline __m256i f16x16(const float *p, __m512i *mx) {
  __m512 v = _mm512_loadu_ps(p);
  *mx = _mm512_max_epu32(*mx, abs_bits(_mm512_castps_si512(v)));
  return _mm512_cvtps_ph(v, F16_ROUND);
}
static inline __m512i f16x32(const float *p, __m512i *mx) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(f16x16(p, mx)), f16x16(p + 16, mx), 1);
}

/* 16 floats -> 16 bfloat16 codes in the low halves of 32-bit lanes. Integer rounding, not
 * vcvtneps2bf16 (AVX512_BF16), which flushes subnormal inputs and would differ from scalar. */
static inline __m512i bf16x16_32(const float *p, __m512i *mx) {
  __m512i u = _mm512_loadu_si512(p);
  *mx = _mm512_max_epu32(*mx, abs_bits(u));
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
  return _mm512_srli_epi32(r, 16);
}
static inline __m256i bf16x16(const float *p, __m512i *mx) {
  return _mm512_cvtepi32_epi16(bf16x16_32(p, mx)); /* truncating narrow: values fit 16 bits */
}
/* packus interleaves per 128-bit lane; the qword permute restores order. */
static inline __m512i bf16x32(const float *p, __m512i *mx) {
  __m512i ab = _mm512_packus_epi32(bf16x16_32(p, mx), bf16x16_32(p + 16, mx));
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), ab);
}

#define DEFINE_ENCODE(name, CONV32, CONV16, RANGE, NARROW)                                         \
  size_t name(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q, unsigned flags,          \
              int *rc) {                                                                           \
    if (d < 16) return NARROW(x, n, d, ldx, q, flags, rc);                                         \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const float *row = x + i * ldx;                                                              \
      uint8_t *qr = q + 2 * i * d;                                                                 \
      __m512i m0 = _mm512_setzero_si512(), m1 = m0;                                                \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % 32 == 0 && ((uintptr_t)qr & 63) == 0) {                   \
        for (; j < d; j += 32) _mm512_stream_si512((__m512i *)(qr + 2 * j), CONV32(row + j, &m0)); \
        streamed = 1;                                                                              \
      } else {                                                                                     \
        for (; j + 64 <= d; j += 64) {                                                             \
          _mm512_storeu_si512(qr + 2 * j, CONV32(row + j, &m0));                                   \
          _mm512_storeu_si512(qr + 2 * j + 64, CONV32(row + j + 32, &m1));                         \
        }                                                                                          \
        for (; j + 16 <= d; j += 16)                                                               \
          _mm256_storeu_si256((__m256i *)(qr + 2 * j), CONV16(row + j, &m0));                      \
        if (j < d) _mm256_storeu_si256((__m256i *)(qr + 2 * (d - 16)), CONV16(row + d - 16, &m1)); \
      }                                                                                            \
      int r = vec_half_row_rc(_mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1)), RANGE);           \
      if (VEC_UNLIKELY(r != VEC_OK)) {                                                             \
        if (streamed) _mm_sfence();                                                                \
        *rc = r;                                                                                   \
        return i;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
    return n;                                                                                      \
  }

DEFINE_ENCODE(vec_encode_f16_avx512, f16x32, f16x16, VEC_F16_RANGE, vec_encode_f16_avx2)

DEFINE_ENCODE(vec_encode_bf16_avx512, bf16x32, bf16x16, VEC_BF16_RANGE, vec_encode_bf16_avx2)

static inline __m512 f16dec16(const uint8_t *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline __m512 bf16dec16(const uint8_t *p) {
  __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

#define DEFINE_DECODE(name, DEC16, NARROW)                                                         \
  void name(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo, unsigned flags) {        \
    if (d < 16) {                                                                                  \
      NARROW(q, n, d, out, ldo, flags);                                                            \
      return;                                                                                      \
    }                                                                                              \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const uint8_t *qr = q + 2 * i * d;                                                           \
      float *o = out + i * ldo;                                                                    \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % 16 == 0 && ((uintptr_t)o & 63) == 0) {                    \
        for (; j < d; j += 16) _mm512_stream_ps(o + j, DEC16(qr + 2 * j));                         \
        streamed = 1;                                                                              \
        continue;                                                                                  \
      }                                                                                            \
      for (; j + 64 <= d; j += 64) {                                                               \
        _mm512_storeu_ps(o + j, DEC16(qr + 2 * j));                                                \
        _mm512_storeu_ps(o + j + 16, DEC16(qr + 2 * j + 32));                                      \
        _mm512_storeu_ps(o + j + 32, DEC16(qr + 2 * j + 64));                                      \
        _mm512_storeu_ps(o + j + 48, DEC16(qr + 2 * j + 96));                                      \
      }                                                                                            \
      for (; j + 16 <= d; j += 16) _mm512_storeu_ps(o + j, DEC16(qr + 2 * j));                     \
      if (j < d) _mm512_storeu_ps(o + d - 16, DEC16(qr + 2 * (d - 16)));                           \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
  }

DEFINE_DECODE(vec_decode_f16_avx512, f16dec16, vec_decode_f16_avx2)

DEFINE_DECODE(vec_decode_bf16_avx512, bf16dec16, vec_decode_bf16_avx2)
