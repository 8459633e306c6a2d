/* calibrated_avx512.c: AVX-512 F/BW/VL kernels of the calibrated codecs: calibrated_avx2.c at
 * twice the width, with rounding modes encoded in the conversion instruction itself. */
#include <immintrin.h>

#include "calibrated_kernels.h"

#define CAL_INLINE static inline __attribute__((always_inline))

/* 16 dimensions -> 16 codes as int32 (as cal8 in calibrated_avx2.c). */
CAL_INLINE __m512i cal16(const float *x, const float *lo, const float *st, unsigned mode,
                         __m512i *bad) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 xv = _mm512_loadu_ps(x), s = _mm512_loadu_ps(st);
  *bad = _mm512_max_epu32(
      *bad, _mm512_and_si512(_mm512_castps_si512(xv), _mm512_set1_epi32((int)VEC_CAL_ABS_MASK)));
  __m512 v = _mm512_div_ps(_mm512_sub_ps(xv, _mm512_loadu_ps(lo)), s);
  /* Step 0 (a constant dimension): v is 0/0 or +-Inf; force 0, the lowest code. */
  v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, zero, _CMP_NEQ_UQ), v);
  v = _mm512_min_ps(_mm512_max_ps(v, zero), _mm512_set1_ps(255.0f));
  if (mode & VEC_CAL_TRUNC)
    return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* 64 dimensions -> 64 code bytes in order: packs interleave per 128-bit lane, one dword permute
 * restores the order. */
CAL_INLINE __m512i cal64(const float *x, const float *lo, const float *st, unsigned mode,
                         __m512i *bad) {
  __m512i ab =
      _mm512_packs_epi32(cal16(x, lo, st, mode, bad), cal16(x + 16, lo + 16, st + 16, mode, bad));
  __m512i cd = _mm512_packs_epi32(cal16(x + 32, lo + 32, st + 32, mode, bad),
                                  cal16(x + 48, lo + 48, st + 48, mode, bad));
  __m512i p = _mm512_packus_epi16(ab, cd);
  /* int8: code = level - 128, the level's byte with its top bit flipped. */
  if (mode & VEC_CAL_INT8) p = _mm512_xor_si512(p, _mm512_set1_epi8((char)0x80));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, p);
}

/* 16 codes: every value is already in its byte's range, so a plain narrowing keeps it exactly. */
CAL_INLINE void store16(uint8_t *q, __m512i c, unsigned mode) {
  __m128i b = _mm512_cvtepi32_epi8(c);
  if (mode & VEC_CAL_INT8) b = _mm_xor_si128(b, _mm_set1_epi8((char)0x80));
  _mm_storeu_si128((__m128i *)q, b);
}

CAL_INLINE size_t encode_body(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                              const float *lo, const float *st, unsigned mode, unsigned flags) {
  const __m512i nonfinite = _mm512_set1_epi32((int)VEC_CAL_NONFINITE_BITS);
  int stream = (flags & VEC_KF_STREAM) && d % 64 == 0 && ((uintptr_t)q & 63) == 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    __m512i bad = _mm512_setzero_si512();
    size_t j = 0;
    if (stream) {
      for (; j < d; j += 64)
        _mm512_stream_si512((__m512i *)(qr + j), cal64(row + j, lo + j, st + j, mode, &bad));
    } else {
      for (; j + 64 <= d; j += 64)
        _mm512_storeu_si512(qr + j, cal64(row + j, lo + j, st + j, mode, &bad));
      for (; j + 16 <= d; j += 16)
        store16(qr + j, cal16(row + j, lo + j, st + j, mode, &bad), mode);
      /* Overlapping last vector: rewrites a few identical codes instead of masking. */
      if (j < d) {
        size_t k = d - 16;
        store16(qr + k, cal16(row + k, lo + k, st + k, mode, &bad), mode);
      }
    }
    if (VEC_UNLIKELY(_mm512_cmpge_epu32_mask(bad, nonfinite))) {
      if (stream) _mm_sfence();
      return i;
    }
  }
  if (stream) _mm_sfence();
  return n;
}

size_t vec_encode_cal_avx512(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                             const float *lo, const float *st, unsigned mode, unsigned flags) {
  if (d < 16) return vec_encode_cal_scalar(x, n, d, ldx, q, lo, st, mode, flags);
  switch (mode) {
  case 0: return encode_body(x, n, d, ldx, q, lo, st, 0, flags);
  case VEC_CAL_INT8: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8, flags);
  case VEC_CAL_TRUNC: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_TRUNC, flags);
  default: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, flags);
  }
}

/* 16 bytes -> 16 reconstructions, lo + t * step with t from vec_cal_level (exact in float32). */
CAL_INLINE __m512 dcal16(const uint8_t *q, const float *lo, const float *st, unsigned mode) {
  __m128i b = _mm_loadu_si128((const __m128i *)q);
  __m512 t;
  if (mode & VEC_CAL_INT8) {
    __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
    t = _mm512_add_ps(c, _mm512_set1_ps(128.0f));
    if (mode & VEC_CAL_TRUNC) t = _mm512_add_ps(t, _mm512_set1_ps(0.5f));
  } else {
    t = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
    if (mode & VEC_CAL_TRUNC) t = _mm512_add_ps(t, _mm512_set1_ps(0.5f));
  }
  return _mm512_add_ps(_mm512_loadu_ps(lo), _mm512_mul_ps(t, _mm512_loadu_ps(st)));
}

CAL_INLINE void decode_body(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                            unsigned mode, float *out, size_t ldo, unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 16 == 0 && ((uintptr_t)o & 63) == 0) {
      for (; j < d; j += 16) _mm512_stream_ps(o + j, dcal16(qr + j, lo + j, st + j, mode));
      streamed = 1;
      continue;
    }
    for (; j + 64 <= d; j += 64) {
      _mm512_storeu_ps(o + j, dcal16(qr + j, lo + j, st + j, mode));
      _mm512_storeu_ps(o + j + 16, dcal16(qr + j + 16, lo + j + 16, st + j + 16, mode));
      _mm512_storeu_ps(o + j + 32, dcal16(qr + j + 32, lo + j + 32, st + j + 32, mode));
      _mm512_storeu_ps(o + j + 48, dcal16(qr + j + 48, lo + j + 48, st + j + 48, mode));
    }
    for (; j + 16 <= d; j += 16) _mm512_storeu_ps(o + j, dcal16(qr + j, lo + j, st + j, mode));
    if (j < d) _mm512_storeu_ps(o + d - 16, dcal16(qr + d - 16, lo + d - 16, st + d - 16, mode));
  }
  if (streamed) _mm_sfence();
}

void vec_decode_cal_avx512(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                           unsigned mode, float *out, size_t ldo, unsigned flags) {
  if (d < 16) {
    vec_decode_cal_scalar(q, n, d, lo, st, mode, out, ldo, flags);
    return;
  }
  switch (mode) {
  case 0: decode_body(q, n, d, lo, st, 0, out, ldo, flags); break;
  case VEC_CAL_INT8: decode_body(q, n, d, lo, st, VEC_CAL_INT8, out, ldo, flags); break;
  case VEC_CAL_TRUNC: decode_body(q, n, d, lo, st, VEC_CAL_TRUNC, out, ldo, flags); break;
  default: decode_body(q, n, d, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, out, ldo, flags);
  }
}
