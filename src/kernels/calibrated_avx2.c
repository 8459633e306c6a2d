/* calibrated_avx2.c: AVX2 kernels of the calibrated codecs (compiled with -mavx2; only called when
 * the CPU has it). Same math as vec_cal_code / vec_cal_decode1, eight dimensions at a time. */
#include <immintrin.h>

#include "calibrated_kernels.h"

/* Each mode gets its own copy of the loops with the mode folded to constants. */
#define CAL_INLINE static inline __attribute__((always_inline))

/* 8 dimensions -> 8 codes as int32 (uint8: 0..255 or, for int8 rounded to nearest, the uint8
 * level, flipped to a signed code when packed). Folds the |x| bits into *bad to catch NaN/Inf. */
CAL_INLINE __m256i cal8(const float *x, const float *lo, const float *st, unsigned mode,
                        __m256i *bad) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 xv = _mm256_loadu_ps(x), s = _mm256_loadu_ps(st);
  *bad = _mm256_max_epu32(
      *bad, _mm256_and_si256(_mm256_castps_si256(xv), _mm256_set1_epi32((int)VEC_CAL_ABS_MASK)));
  __m256 v = _mm256_div_ps(_mm256_sub_ps(xv, _mm256_loadu_ps(lo)), s);
  /* Step 0 (a constant dimension): v is 0/0 or +-Inf; force 0, the lowest code. */
  v = _mm256_andnot_ps(_mm256_cmp_ps(s, zero, _CMP_EQ_OQ), v);
  v = _mm256_min_ps(_mm256_max_ps(v, zero), _mm256_set1_ps(255.0f));
  if (mode & VEC_CAL_TRUNC) return _mm256_cvttps_epi32(v); /* truncates whatever MXCSR says */
  return _mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* int32 codes (see cal8) -> bytes, pairwise within 128-bit lanes; the caller restores order. */
CAL_INLINE __m256i pack16(__m256i a, __m256i b, __m256i c, __m256i d, unsigned mode) {
  __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  __m256i u = _mm256_packus_epi16(ab, cd);
  /* int8: code = level - 128, i.e. the level's byte with its top bit flipped. */
  return (mode & VEC_CAL_INT8) ? _mm256_xor_si256(u, _mm256_set1_epi8((char)0x80)) : u;
}

CAL_INLINE __m256i cal32(const float *x, const float *lo, const float *st, unsigned mode,
                         __m256i *bad) {
  __m256i p = pack16(cal8(x, lo, st, mode, bad), cal8(x + 8, lo + 8, st + 8, mode, bad),
                     cal8(x + 16, lo + 16, st + 16, mode, bad),
                     cal8(x + 24, lo + 24, st + 24, mode, bad), mode);
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

CAL_INLINE void store8(uint8_t *q, __m256i c, unsigned mode) {
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
  __m128i b = _mm_packus_epi16(w, w);
  if (mode & VEC_CAL_INT8) b = _mm_xor_si128(b, _mm_set1_epi8((char)0x80));
  _mm_storel_epi64((__m128i *)q, b);
}

CAL_INLINE size_t encode_body(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                              const float *lo, const float *st, unsigned mode, unsigned flags) {
  const __m256i nonfinite = _mm256_set1_epi32((int)VEC_CAL_NONFINITE_BITS);
  int stream = (flags & VEC_KF_STREAM) && d % 32 == 0 && ((uintptr_t)q & 31) == 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    __m256i bad = _mm256_setzero_si256();
    size_t j = 0;
    if (stream) {
      for (; j < d; j += 32)
        _mm256_stream_si256((__m256i *)(qr + j), cal32(row + j, lo + j, st + j, mode, &bad));
    } else {
      for (; j + 32 <= d; j += 32)
        _mm256_storeu_si256((__m256i *)(qr + j), cal32(row + j, lo + j, st + j, mode, &bad));
      for (; j + 8 <= d; j += 8) store8(qr + j, cal8(row + j, lo + j, st + j, mode, &bad), mode);
      /* Overlapping last vector: rewrites a few identical codes instead of masking. */
      if (j < d) {
        size_t k = d - 8;
        store8(qr + k, cal8(row + k, lo + k, st + k, mode, &bad), mode);
      }
    }
    /* Any lane with |x| bits >= Inf's: the max with that threshold is the lane itself. */
    __m256i hit = _mm256_cmpeq_epi32(_mm256_max_epu32(bad, nonfinite), bad);
    if (VEC_UNLIKELY(_mm256_movemask_ps(_mm256_castsi256_ps(hit)))) {
      if (stream) _mm_sfence();
      return i;
    }
  }
  if (stream) _mm_sfence();
  return n;
}

size_t vec_encode_cal_avx2(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                           const float *lo, const float *st, unsigned mode, unsigned flags) {
  if (d < 8) return vec_encode_cal_scalar(x, n, d, ldx, q, lo, st, mode, flags);
  switch (mode) {
  case 0: return encode_body(x, n, d, ldx, q, lo, st, 0, flags);
  case VEC_CAL_INT8: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8, flags);
  case VEC_CAL_TRUNC: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_TRUNC, flags);
  default: return encode_body(x, n, d, ldx, q, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, flags);
  }
}

/* 8 bytes -> 8 reconstructions, lo + t * step with t from vec_cal_level (exact in float32). */
CAL_INLINE __m256 dcal8(const uint8_t *q, const float *lo, const float *st, unsigned mode) {
  __m128i b = _mm_loadl_epi64((const __m128i *)q);
  __m256 t;
  if (mode & VEC_CAL_INT8) {
    __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    t = _mm256_add_ps(c, _mm256_set1_ps(128.0f));
    if (mode & VEC_CAL_TRUNC) t = _mm256_add_ps(t, _mm256_set1_ps(0.5f));
  } else {
    t = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
    if (mode & VEC_CAL_TRUNC) t = _mm256_add_ps(t, _mm256_set1_ps(0.5f));
  }
  return _mm256_add_ps(_mm256_loadu_ps(lo), _mm256_mul_ps(t, _mm256_loadu_ps(st)));
}

CAL_INLINE void decode_body(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                            unsigned mode, float *out, size_t ldo, unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % 8 == 0 && ((uintptr_t)o & 31) == 0) {
      for (; j < d; j += 8) _mm256_stream_ps(o + j, dcal8(qr + j, lo + j, st + j, mode));
      streamed = 1;
      continue;
    }
    for (; j + 32 <= d; j += 32) {
      _mm256_storeu_ps(o + j, dcal8(qr + j, lo + j, st + j, mode));
      _mm256_storeu_ps(o + j + 8, dcal8(qr + j + 8, lo + j + 8, st + j + 8, mode));
      _mm256_storeu_ps(o + j + 16, dcal8(qr + j + 16, lo + j + 16, st + j + 16, mode));
      _mm256_storeu_ps(o + j + 24, dcal8(qr + j + 24, lo + j + 24, st + j + 24, mode));
    }
    for (; j + 8 <= d; j += 8) _mm256_storeu_ps(o + j, dcal8(qr + j, lo + j, st + j, mode));
    if (j < d) _mm256_storeu_ps(o + d - 8, dcal8(qr + d - 8, lo + d - 8, st + d - 8, mode));
  }
  if (streamed) _mm_sfence();
}

void vec_decode_cal_avx2(const uint8_t *q, size_t n, size_t d, const float *lo, const float *st,
                         unsigned mode, float *out, size_t ldo, unsigned flags) {
  if (d < 8) {
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
