/* binary_avx2.c: AVX2 kernels of the binary (sign-bit) codec (compiled with -mavx2; only called on
 * CPUs that have it). Bit-identical to binary_scalar.c; rows shorter than 8 go to the scalar code.
 * Tails use an overlapping last vector, as the int8 kernels do, so no load or store leaves the row.
 */
#include <immintrin.h>
#include <string.h>

#include "binary_kernels.h"

/* Sign bits of 8 floats, element k in bit k (LSB first; reversed by the callers), and the running
 * max of their |x| bit patterns for the NaN/Inf check. _CMP_GT_OQ: ordered and quiet, so NaN
 * compares false without raising, and 0.0 / -0.0 are not > 0. */
static inline unsigned gt0_bits(const float *p, __m256i *amax) {
  const __m256 v = _mm256_loadu_ps(p);
  const __m256i abs = _mm256_set1_epi32((int)VEC_B1_ABS_MASK);
  *amax = _mm256_max_epu32(*amax, _mm256_and_si256(_mm256_castps_si256(v), abs));
  return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
}

static inline int has_nonfinite(__m256i amax) {
  /* |x| bits are <= 0x7fffffff, so a signed compare is exact here. */
  const __m256i finite_max = _mm256_set1_epi32((int)(VEC_B1_NONFINITE - 1));
  const __m256i bad = _mm256_cmpgt_epi32(amax, finite_max);
  return !_mm256_testz_si256(bad, bad);
}

size_t vec_binary_encode_avx2(const float *x, size_t n, size_t d, size_t ldx, uint8_t *codes,
                              size_t ldc, unsigned flags) {
  if (d < 8) return vec_binary_encode_scalar(x, n, d, ldx, codes, ldc, flags);
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *c = codes + i * ldc;
    __m256i amax = _mm256_setzero_si256();
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
      uint64_t m = 0;
      for (unsigned t = 0; t < 8; t++) m |= (uint64_t)gt0_bits(row + j + 8 * t, &amax) << (8 * t);
      m = vec_b1_rev_bits_in_bytes(m);
      memcpy(c + j / 8, &m, 8); /* little-endian: byte 0 holds elements j..j+7 */
    }
    for (; j + 8 <= d; j += 8)
      c[j / 8] = (uint8_t)vec_b1_rev_bits_in_bytes(gt0_bits(row + j, &amax));
    if (j < d) {
      /* The last 8 elements end the row; the r new ones sit in the top of the reversed byte, and
       * shifting them up drops the already-encoded ones and leaves the pad bits 0. */
      unsigned r = (unsigned)(d - j);
      unsigned b = (unsigned)vec_b1_rev_bits_in_bytes(gt0_bits(row + d - 8, &amax));
      c[j / 8] = (uint8_t)(b << (8 - r));
    }
    if (has_nonfinite(amax)) return i;
  }
  return n;
}

/* 8 floats from a 32-bit word holding element t in bit 31 - t: shifting left by t brings each
 * element's bit to the sign position, and blendv selects on exactly that bit. */
static inline __m256 signs8(__m256i w, __m256i shift) {
  return _mm256_blendv_ps(_mm256_set1_ps(-1.0f), _mm256_set1_ps(1.0f),
                          _mm256_castsi256_ps(_mm256_sllv_epi32(w, shift)));
}

static inline void put8(float *p, __m256 v, int stream) {
  if (stream)
    _mm256_stream_ps(p, v);
  else
    _mm256_storeu_ps(p, v);
}

void vec_binary_decode_avx2(const uint8_t *codes, size_t n, size_t d, size_t ldc, float *out,
                            size_t ldo, unsigned flags) {
  if (d < 8) {
    vec_binary_decode_scalar(codes, n, d, ldc, out, ldo, flags);
    return;
  }
  const __m256i s0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i s8 = _mm256_add_epi32(s0, _mm256_set1_epi32(8));
  const __m256i s16 = _mm256_add_epi32(s0, _mm256_set1_epi32(16));
  const __m256i s24 = _mm256_add_epi32(s0, _mm256_set1_epi32(24));
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *c = codes + i * ldc;
    float *o = out + i * ldo;
    /* Non-temporal stores only on whole aligned rows: d % 8 == 0 leaves no overlapping tail. */
    int stream = (flags & VEC_KF_STREAM) && d % 8 == 0 && ((uintptr_t)o & 31) == 0;
    streamed |= stream;
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
      uint32_t w;
      memcpy(&w, c + j / 8, 4);
      /* Byte-swapped, the first code byte is the top byte: element t lands in bit 31 - t. */
      const __m256i v = _mm256_set1_epi32((int)__builtin_bswap32(w));
      put8(o + j, signs8(v, s0), stream);
      put8(o + j + 8, signs8(v, s8), stream);
      put8(o + j + 16, signs8(v, s16), stream);
      put8(o + j + 24, signs8(v, s24), stream);
    }
    for (; j + 8 <= d; j += 8)
      put8(o + j, signs8(_mm256_set1_epi32((int)((uint32_t)c[j / 8] << 24)), s0), stream);
    if (j < d) {
      /* The last 8 elements straddle code bytes j/8 - 1 and j/8 (j >= 8 here): join them and
       * shift so that element d - 8 lands in bit 31. */
      unsigned r = (unsigned)(d - j);
      uint32_t w = ((uint32_t)c[j / 8 - 1] << 8 | c[j / 8]) << (16 + r);
      _mm256_storeu_ps(o + d - 8, signs8(_mm256_set1_epi32((int)w), s0));
    }
  }
  if (streamed) _mm_sfence();
}
