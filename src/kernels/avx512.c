/* avx512.c: AVX-512 F/BW/VL kernels (compiled with those flags; only called when the CPU and OS
 * support them). Same structure as avx2.c at twice the width; tails overlap instead of masking. */
#include <immintrin.h>

#include "int8_row.h"
#include "kernels.h"

static inline uint32_t amax_bits_avx512(const float *row, size_t d) { /* d >= 16 */
  const __m512i mask = _mm512_set1_epi32((int)VEC_ABS_MASK);
  __m512i m0 = _mm512_setzero_si512(), m1 = m0, m2 = m0, m3 = m0;
  size_t j = 0;
  for (; j + 64 <= d; j += 64) {
    const char *p = (const char *)(row + j);
    m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(p), mask));
    m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(p + 64), mask));
    m2 = _mm512_max_epu32(m2, _mm512_and_si512(_mm512_loadu_si512(p + 128), mask));
    m3 = _mm512_max_epu32(m3, _mm512_and_si512(_mm512_loadu_si512(p + 192), mask));
  }
  for (; j + 16 <= d; j += 16)
    m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(row + j), mask));
  if (j < d) m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(row + d - 16), mask));
  return _mm512_reduce_max_epu32(
      _mm512_max_epu32(_mm512_max_epu32(m0, m1), _mm512_max_epu32(m2, m3)));
}

static inline __m512i q32(const float *p, __m512 inv) {
  __m512 v = _mm512_mul_ps(_mm512_loadu_ps(p), inv);
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* 64 floats -> 64 codes: packs interleave per 128-bit lane; one dword permute restores order. */
static inline __m512i q8x64(const float *p, __m512 inv) {
  __m512i ab = _mm512_packs_epi32(q32(p, inv), q32(p + 16, inv));
  __m512i cd = _mm512_packs_epi32(q32(p + 32, inv), q32(p + 48, inv));
  __m512i abcd = _mm512_packs_epi16(ab, cd);
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, abcd);
}

/* 16 floats -> 16 codes with a saturating narrow (|values| <= 127 already, see int8_row.h). */
static inline __m128i q8x16(const float *p, __m512 inv) {
  return _mm512_cvtsepi32_epi8(q32(p, inv));
}

size_t vec_encode_int8_avx512(const float *x, size_t n, size_t d, size_t ldx, int8_t *q, size_t ldq,
                              float *scales, unsigned flags) {
  if (d < 16) return vec_encode_int8_scalar(x, n, d, ldx, q, ldq, scales, flags);
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    int8_t *qr = q + i * ldq;
    uint32_t amax = amax_bits_avx512(row, d);
    int kind = vec_int8_row_kind(amax);
    if (kind == VEC_ROW_NONFINITE) {
      if (streamed) _mm_sfence();
      return i;
    }
    if (kind == VEC_ROW_ZERO) {
      memset(qr, 0, d);
      scales[i] = 0.0f;
      continue;
    }
    if (kind == VEC_ROW_TINY) {
      vec_int8_encode_tiny_row(row, d, amax, qr, &scales[i]);
      continue;
    }
    float m = vec_u2f(amax);
    const __m512 inv = _mm512_set1_ps(127.0f / m);
    scales[i] = vec_int8_scale(m);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 64 == 0 && ((uintptr_t)qr & 63) == 0) {
      for (; j < d; j += 64) _mm512_stream_si512((__m512i *)(qr + j), q8x64(row + j, inv));
      streamed = 1;
      continue;
    }
    for (; j + 64 <= d; j += 64) _mm512_storeu_si512(qr + j, q8x64(row + j, inv));
    for (; j + 16 <= d; j += 16) _mm_storeu_si128((__m128i *)(qr + j), q8x16(row + j, inv));
    if (j < d) _mm_storeu_si128((__m128i *)(qr + d - 16), q8x16(row + d - 16, inv));
  }
  if (streamed) _mm_sfence();
  return n;
}

static inline __m512 dq16(const int8_t *p, __m512 s) {
  __m512i v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
}

void vec_decode_int8_avx512(const int8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                            float *out, size_t ldo, unsigned flags) {
  if (d < 16) {
    vec_decode_int8_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const int8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const __m512 s = _mm512_set1_ps(scales[i]);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 16 == 0 && ((uintptr_t)o & 63) == 0) {
      for (; j + 64 <= d; j += 64) {
        _mm512_stream_ps(o + j, dq16(qr + j, s));
        _mm512_stream_ps(o + j + 16, dq16(qr + j + 16, s));
        _mm512_stream_ps(o + j + 32, dq16(qr + j + 32, s));
        _mm512_stream_ps(o + j + 48, dq16(qr + j + 48, s));
      }
      for (; j < d; j += 16) _mm512_stream_ps(o + j, dq16(qr + j, s));
      streamed = 1;
      continue;
    }
    for (; j + 64 <= d; j += 64) {
      _mm512_storeu_ps(o + j, dq16(qr + j, s));
      _mm512_storeu_ps(o + j + 16, dq16(qr + j + 16, s));
      _mm512_storeu_ps(o + j + 32, dq16(qr + j + 32, s));
      _mm512_storeu_ps(o + j + 48, dq16(qr + j + 48, s));
    }
    for (; j + 16 <= d; j += 16) _mm512_storeu_ps(o + j, dq16(qr + j, s));
    if (j < d) _mm512_storeu_ps(o + d - 16, dq16(qr + d - 16, s));
  }
  if (streamed) _mm_sfence();
}
