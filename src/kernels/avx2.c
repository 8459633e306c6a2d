/* avx2.c: AVX2 kernels (compiled with -mavx2 -mfma; only called when the CPU has them).
 * No software prefetch: measured 15-40% slower from RAM on the development CPU at every distance
 * tried (512 B to 8 KB); the hardware prefetcher follows these streams alone.
 * Tails use an overlapping last vector rather than masks: masked loads were measured slower from
 * RAM on the development CPU, and rewriting a few identical codes is harmless. */
#include <immintrin.h>

#include "int8_row.h"
#include "kernels.h"

static inline uint32_t hmax_epu32(__m256i v) {
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return (uint32_t)_mm_cvtsi128_si32(m);
}

/* Max of the |x| bit patterns of row[0..d), d >= 8. */
static inline uint32_t amax_bits_avx2(const float *row, size_t d) {
  const __m256i mask = _mm256_set1_epi32((int)VEC_ABS_MASK);
  __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
  size_t j = 0;
  for (; j + 32 <= d; j += 32) {
    const char *p = (const char *)(row + j);
    m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p), mask));
    m1 = _mm256_max_epu32(m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p + 1), mask));
    m2 = _mm256_max_epu32(m2, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p + 2), mask));
    m3 = _mm256_max_epu32(m3, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p + 3), mask));
  }
  for (; j + 8 <= d; j += 8)
    m0 = _mm256_max_epu32(m0,
                          _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(row + j)), mask));
  if (j < d)
    m1 = _mm256_max_epu32(
        m1, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(row + d - 8)), mask));
  return hmax_epu32(_mm256_max_epu32(_mm256_max_epu32(m0, m1), _mm256_max_epu32(m2, m3)));
}

/* 8 floats -> 8 int32, x*inv rounded half to even regardless of MXCSR. */
static inline __m256i q32(const float *p, __m256 inv) {
  __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), inv);
  return _mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* 32 floats -> 32 int8 codes in order (packs work per 128-bit lane; the permute undoes that). */
static inline __m256i q8x32(const float *p, __m256 inv) {
  __m256i ab = _mm256_packs_epi32(q32(p, inv), q32(p + 8, inv));
  __m256i cd = _mm256_packs_epi32(q32(p + 16, inv), q32(p + 24, inv));
  __m256i abcd = _mm256_packs_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

size_t vec_encode_int8_avx2(const float *x, size_t n, size_t d, size_t ldx, int8_t *q, size_t ldq,
                            float *scales, unsigned flags) {
  if (d < 8) return vec_encode_int8_scalar(x, n, d, ldx, q, ldq, scales, flags);
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    int8_t *qr = q + i * ldq;
    uint32_t amax = amax_bits_avx2(row, d);
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
    const __m256 inv = _mm256_set1_ps(127.0f / m);
    scales[i] = vec_int8_scale(m);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 32 == 0 && ((uintptr_t)qr & 31) == 0) {
      for (; j < d; j += 32) _mm256_stream_si256((__m256i *)(qr + j), q8x32(row + j, inv));
      streamed = 1;
      continue;
    }
    for (; j + 32 <= d; j += 32) _mm256_storeu_si256((__m256i *)(qr + j), q8x32(row + j, inv));
    if (j < d) {
      if (d >= 32) {
        _mm256_storeu_si256((__m256i *)(qr + d - 32), q8x32(row + d - 32, inv));
      } else {
        const float invs = 127.0f / m;
        for (; j < d; j++) qr[j] = vec_q8(row[j] * invs);
      }
    }
  }
  if (streamed) _mm_sfence();
  return n;
}

static inline __m256 dq8(const int8_t *p, __m256 s) {
  __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(v), s);
}

void vec_decode_int8_avx2(const int8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                          float *out, size_t ldo, unsigned flags) {
  if (d < 8) {
    vec_decode_int8_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const int8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const __m256 s = _mm256_set1_ps(scales[i]);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 8 == 0 && ((uintptr_t)o & 31) == 0) {
      for (; j + 32 <= d; j += 32) {
        _mm256_stream_ps(o + j, dq8(qr + j, s));
        _mm256_stream_ps(o + j + 8, dq8(qr + j + 8, s));
        _mm256_stream_ps(o + j + 16, dq8(qr + j + 16, s));
        _mm256_stream_ps(o + j + 24, dq8(qr + j + 24, s));
      }
      for (; j < d; j += 8) _mm256_stream_ps(o + j, dq8(qr + j, s));
      streamed = 1;
      continue;
    }
    for (; j + 32 <= d; j += 32) {
      _mm256_storeu_ps(o + j, dq8(qr + j, s));
      _mm256_storeu_ps(o + j + 8, dq8(qr + j + 8, s));
      _mm256_storeu_ps(o + j + 16, dq8(qr + j + 16, s));
      _mm256_storeu_ps(o + j + 24, dq8(qr + j + 24, s));
    }
    for (; j + 8 <= d; j += 8) _mm256_storeu_ps(o + j, dq8(qr + j, s));
    if (j < d) _mm256_storeu_ps(o + d - 8, dq8(qr + d - 8, s));
  }
  if (streamed) _mm_sfence();
}
