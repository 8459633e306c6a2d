/* half_avx2.c: AVX2 kernels for f16 (through F16C) and bf16 (integer rounding); built with -mavx2
 * -mfma -mf16c, only called when the CPU has AVX2 and, for f16, F16C.
 * As in avx2.c: no software prefetch, and tails use an overlapping last vector (rewriting a few
 * identical codes is harmless) instead of masks. */
#include <immintrin.h>

#include "half_kernels.h"

/* Explicit rounding in the immediate: MXCSR's rounding mode is ignored, and NO_EXC keeps the
 * inexact flag quiet. MXCSR.DAZ could only touch float32 subnormals, which become +-0 anyway. */
#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static inline uint32_t hmax_epu32(__m256i v) {
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return (uint32_t)_mm_cvtsi128_si32(m);
}

static inline __m256i abs_bits(__m256i u) {
  return _mm256_and_si256(u, _mm256_set1_epi32((int)VEC_HALF_ABS_MASK));
}

/* 8 floats -> 8 half codes; folds their |x| bits into *mx. */
static inline __m128i f16x8(const float *p, __m256i *mx) {
  __m256 v = _mm256_loadu_ps(p);
  *mx = _mm256_max_epu32(*mx, abs_bits(_mm256_castps_si256(v)));
  return _mm256_cvtps_ph(v, F16_ROUND);
}
static inline __m256i f16x16(const float *p, __m256i *mx) {
  __m128i lo = f16x8(p, mx), hi = f16x8(p + 8, mx);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* 8 floats -> 8 bfloat16 codes, each in the low half of a 32-bit lane. Integer arithmetic, not
 * AVX512_BF16's vcvtneps2bf16: that instruction flushes subnormal inputs to zero and so would not
 * match the scalar reference (and most AVX2 CPUs lack it anyway). */
static inline __m256i bf16x8_32(const float *p, __m256i *mx) {
  __m256i u = _mm256_loadu_si256((const __m256i *)p);
  *mx = _mm256_max_epu32(*mx, abs_bits(u));
  __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd);
  return _mm256_srli_epi32(r, 16);
}
static inline __m128i bf16x8(const float *p, __m256i *mx) {
  __m256i r = bf16x8_32(p, mx);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
/* packus works per 128-bit lane; the qword permute puts the 16 codes back in order. Values are
 * 0..0xffff, so the unsigned saturation never changes one. */
static inline __m256i bf16x16(const float *p, __m256i *mx) {
  __m256i ab = _mm256_packus_epi32(bf16x8_32(p, mx), bf16x8_32(p + 8, mx));
  return _mm256_permute4x64_epi64(ab, _MM_SHUFFLE(3, 1, 2, 0));
}

/* One row loop for both formats: CONV16/CONV8 convert and fold |x| bits into m0/m1. Rows whose
 * codes are 32-byte aligned and a multiple of 32 bytes long can be streamed (VEC_KF_STREAM). */
#define DEFINE_ENCODE(name, CONV16, CONV8, RANGE, SCALAR)                                          \
  size_t name(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q, unsigned flags,          \
              int *rc) {                                                                           \
    if (d < 8) return SCALAR(x, n, d, ldx, q, flags, rc);                                          \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const float *row = x + i * ldx;                                                              \
      uint8_t *qr = q + 2 * i * d;                                                                 \
      __m256i m0 = _mm256_setzero_si256(), m1 = m0;                                                \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % 16 == 0 && ((uintptr_t)qr & 31) == 0) {                   \
        for (; j < d; j += 16) _mm256_stream_si256((__m256i *)(qr + 2 * j), CONV16(row + j, &m0)); \
        streamed = 1;                                                                              \
      } else {                                                                                     \
        for (; j + 32 <= d; j += 32) {                                                             \
          _mm256_storeu_si256((__m256i *)(qr + 2 * j), CONV16(row + j, &m0));                      \
          _mm256_storeu_si256((__m256i *)(qr + 2 * j + 32), CONV16(row + j + 16, &m1));            \
        }                                                                                          \
        for (; j + 8 <= d; j += 8) _mm_storeu_si128((__m128i *)(qr + 2 * j), CONV8(row + j, &m0)); \
        if (j < d) _mm_storeu_si128((__m128i *)(qr + 2 * (d - 8)), CONV8(row + d - 8, &m1));       \
      }                                                                                            \
      int r = vec_half_row_rc(hmax_epu32(_mm256_max_epu32(m0, m1)), RANGE);                        \
      if (VEC_UNLIKELY(r != VEC_OK)) {                                                             \
        if (streamed) _mm_sfence();                                                                \
        *rc = r;                                                                                   \
        return i;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
    return n;                                                                                      \
  }

DEFINE_ENCODE(vec_encode_f16_avx2, f16x16, f16x8, VEC_F16_RANGE, vec_encode_f16_scalar)

DEFINE_ENCODE(vec_encode_bf16_avx2, bf16x16, bf16x8, VEC_BF16_RANGE, vec_encode_bf16_scalar)

/* 8 codes -> 8 floats. vcvtph2ps is exact and quiets signalling NaNs as the scalar code does. */
static inline __m256 f16dec8(const uint8_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
static inline __m256 bf16dec8(const uint8_t *p) {
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

#define DEFINE_DECODE(name, DEC8, SCALAR)                                                          \
  void name(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo, unsigned flags) {        \
    if (d < 8) {                                                                                   \
      SCALAR(q, n, d, out, ldo, flags);                                                            \
      return;                                                                                      \
    }                                                                                              \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const uint8_t *qr = q + 2 * i * d;                                                           \
      float *o = out + i * ldo;                                                                    \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % 8 == 0 && ((uintptr_t)o & 31) == 0) {                     \
        for (; j < d; j += 8) _mm256_stream_ps(o + j, DEC8(qr + 2 * j));                           \
        streamed = 1;                                                                              \
        continue;                                                                                  \
      }                                                                                            \
      for (; j + 32 <= d; j += 32) {                                                               \
        _mm256_storeu_ps(o + j, DEC8(qr + 2 * j));                                                 \
        _mm256_storeu_ps(o + j + 8, DEC8(qr + 2 * j + 16));                                        \
        _mm256_storeu_ps(o + j + 16, DEC8(qr + 2 * j + 32));                                       \
        _mm256_storeu_ps(o + j + 24, DEC8(qr + 2 * j + 48));                                       \
      }                                                                                            \
      for (; j + 8 <= d; j += 8) _mm256_storeu_ps(o + j, DEC8(qr + 2 * j));                        \
      if (j < d) _mm256_storeu_ps(o + d - 8, DEC8(qr + 2 * (d - 8)));                              \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
  }

DEFINE_DECODE(vec_decode_f16_avx2, f16dec8, vec_decode_f16_scalar)

DEFINE_DECODE(vec_decode_bf16_avx2, bf16dec8, vec_decode_bf16_scalar)
