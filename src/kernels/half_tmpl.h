/* half_tmpl.h: the x86 f16 (through F16C) and bf16 (integer rounding) kernels, written once for
 * W = VEC_W lanes: half_avx2.c and half_avx512.c include it after x86_vec.h. Only called where the
 * CPU has the ISA and, for f16, F16C (dispatch.c).
 * As in int8_tmpl.h: no software prefetch, and tails use an overlapping last vector (rewriting a
 * few identical codes is harmless) instead of masks. */
#include "half_kernels.h"
#include "x86_vec.h"

/* Explicit rounding in the immediate: MXCSR's rounding mode is ignored, and NO_EXC keeps the
 * inexact flag quiet. MXCSR.DAZ could only touch float32 subnormals, which become +-0 anyway. */
#define F16_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

VX_INLINE vi abs_bits(vi u) { return vi_and(u, vi_set1_32(VEC_HALF_ABS_MASK)); }

/* W floats -> W bfloat16 codes, each in the low half of a 32-bit lane. Integer arithmetic, not
 * AVX512_BF16's vcvtneps2bf16: that instruction flushes subnormal inputs to zero and so would not
 * match the scalar reference (and most AVX2 CPUs lack it anyway). */
VX_INLINE vi bf16_w32(const float *p, vi *mx) {
  vi u = vi_loadu(p);
  *mx = vi_max_u32(*mx, abs_bits(u));
#if VEC_W == 8
  __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd);
  return _mm256_srli_epi32(r, 16);
#else
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
  return _mm512_srli_epi32(r, 16);
#endif
}

/* The width-specific pieces: W codes in a half-width vector (vh), 2W codes in a full one. */
#if VEC_W == 8
typedef __m128i vh;
VX_INLINE void vh_storeu(void *p, vh v) { _mm_storeu_si128((__m128i *)p, v); }
/* W floats -> W half codes; folds their |x| bits into *mx. */
VX_INLINE vh f16_w(const float *p, vi *mx) {
  __m256 v = _mm256_loadu_ps(p);
  *mx = vi_max_u32(*mx, abs_bits(_mm256_castps_si256(v)));
  return _mm256_cvtps_ph(v, F16_ROUND);
}
VX_INLINE vi f16_2w(const float *p, vi *mx) {
  __m128i lo = f16_w(p, mx), hi = f16_w(p + 8, mx);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}
VX_INLINE vh bf16_w(const float *p, vi *mx) {
  __m256i r = bf16_w32(p, mx);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
/* packus works per 128-bit lane; the qword permute puts the codes back in order. Values are
 * 0..0xffff, so the unsigned saturation never changes one. */
VX_INLINE vi bf16_2w(const float *p, vi *mx) {
  __m256i ab = _mm256_packus_epi32(bf16_w32(p, mx), bf16_w32(p + 8, mx));
  return _mm256_permute4x64_epi64(ab, _MM_SHUFFLE(3, 1, 2, 0));
}
/* W codes -> W floats. vcvtph2ps is exact and quiets signalling NaNs as the scalar code does. */
VX_INLINE vf f16dec_w(const uint8_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
VX_INLINE vf bf16dec_w(const uint8_t *p) {
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
#else
typedef __m256i vh;
VX_INLINE void vh_storeu(void *p, vh v) { _mm256_storeu_si256((__m256i *)p, v); }
VX_INLINE vh f16_w(const float *p, vi *mx) {
  __m512 v = _mm512_loadu_ps(p);
  *mx = vi_max_u32(*mx, abs_bits(_mm512_castps_si512(v)));
  return _mm512_cvtps_ph(v, F16_ROUND);
}
VX_INLINE vi f16_2w(const float *p, vi *mx) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(f16_w(p, mx)), f16_w(p + 16, mx), 1);
}
VX_INLINE vh bf16_w(const float *p, vi *mx) {
  return _mm512_cvtepi32_epi16(bf16_w32(p, mx)); /* truncating narrow: values fit 16 bits */
}
VX_INLINE vi bf16_2w(const float *p, vi *mx) {
  __m512i ab = _mm512_packus_epi32(bf16_w32(p, mx), bf16_w32(p + 16, mx));
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), ab);
}
VX_INLINE vf f16dec_w(const uint8_t *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
VX_INLINE vf bf16dec_w(const uint8_t *p) {
  __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
#endif

/* One row loop for both formats: CONV2W/CONVW convert and fold |x| bits into m0/m1. Rows whose
 * codes are vector-aligned and a multiple of a vector long can be streamed (VEC_KF_STREAM). Rows
 * shorter than W go to NARROW (scalar for AVX2, AVX2 for AVX-512). */
#define DEFINE_ENCODE(name, CONV2W, CONVW, RANGE, NARROW)                                          \
  size_t name(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q, unsigned flags,          \
              int *rc) {                                                                           \
    if (d < VEC_W) return NARROW(x, n, d, ldx, q, flags, rc);                                      \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const float *row = x + i * ldx;                                                              \
      uint8_t *qr = q + 2 * i * d;                                                                 \
      vi m0 = vi_zero(), m1 = m0;                                                                  \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % (2 * VEC_W) == 0 &&                                       \
          ((uintptr_t)qr & (VEC_VBYTES - 1)) == 0) {                                               \
        for (; j < d; j += 2 * VEC_W) vi_stream(qr + 2 * j, CONV2W(row + j, &m0));                 \
        streamed = 1;                                                                              \
      } else {                                                                                     \
        for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {                                               \
          vi_storeu(qr + 2 * j, CONV2W(row + j, &m0));                                             \
          vi_storeu(qr + 2 * j + VEC_VBYTES, CONV2W(row + j + 2 * VEC_W, &m1));                    \
        }                                                                                          \
        for (; j + VEC_W <= d; j += VEC_W) vh_storeu(qr + 2 * j, CONVW(row + j, &m0));             \
        if (j < d) vh_storeu(qr + 2 * (d - VEC_W), CONVW(row + d - VEC_W, &m1));                   \
      }                                                                                            \
      int r = vec_half_row_rc(vi_hmax_u32(vi_max_u32(m0, m1)), RANGE);                             \
      if (VEC_UNLIKELY(r != VEC_OK)) {                                                             \
        if (streamed) _mm_sfence();                                                                \
        *rc = r;                                                                                   \
        return i;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
    return n;                                                                                      \
  }

#define DEFINE_DECODE(name, DECW, NARROW)                                                          \
  void name(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo, unsigned flags) {        \
    if (d < VEC_W) {                                                                               \
      NARROW(q, n, d, out, ldo, flags);                                                            \
      return;                                                                                      \
    }                                                                                              \
    int streamed = 0;                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
      const uint8_t *qr = q + 2 * i * d;                                                           \
      float *o = out + i * ldo;                                                                    \
      size_t j = 0;                                                                                \
      if ((flags & VEC_KF_STREAM) && d % VEC_W == 0 && ((uintptr_t)o & (VEC_VBYTES - 1)) == 0) {   \
        for (; j < d; j += VEC_W) vf_stream(o + j, DECW(qr + 2 * j));                              \
        streamed = 1;                                                                              \
        continue;                                                                                  \
      }                                                                                            \
      for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {                                                 \
        vf_storeu(o + j, DECW(qr + 2 * j));                                                        \
        vf_storeu(o + j + VEC_W, DECW(qr + 2 * (j + VEC_W)));                                      \
        vf_storeu(o + j + 2 * VEC_W, DECW(qr + 2 * (j + 2 * VEC_W)));                              \
        vf_storeu(o + j + 3 * VEC_W, DECW(qr + 2 * (j + 3 * VEC_W)));                              \
      }                                                                                            \
      for (; j + VEC_W <= d; j += VEC_W) vf_storeu(o + j, DECW(qr + 2 * j));                       \
      if (j < d) vf_storeu(o + d - VEC_W, DECW(qr + 2 * (d - VEC_W)));                             \
    }                                                                                              \
    if (streamed) _mm_sfence();                                                                    \
  }

#if VEC_W == 8
#define HALF_NARROW(fmt, op) vec_half_##op##_##fmt##_scalar
#else
#define HALF_NARROW(fmt, op) vec_half_##op##_##fmt##_avx2
#endif
DEFINE_ENCODE(VEC_SFX(vec_half_encode_f16_), f16_2w, f16_w, VEC_F16_RANGE, HALF_NARROW(f16, encode))
DEFINE_ENCODE(VEC_SFX(vec_half_encode_bf16_), bf16_2w, bf16_w, VEC_BF16_RANGE,
              HALF_NARROW(bf16, encode))
DEFINE_DECODE(VEC_SFX(vec_half_decode_f16_), f16dec_w, HALF_NARROW(f16, decode))
DEFINE_DECODE(VEC_SFX(vec_half_decode_bf16_), bf16dec_w, HALF_NARROW(bf16, decode))
