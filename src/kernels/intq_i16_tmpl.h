/* intq_i16_tmpl.h: the x86 int16 kernels and the pieces the int4 kernels share with them, written
 * once for W = VEC_W lanes: intq_avx2.c and intq_avx512.c include it after x86_vec.h, then add
 * their own int4 kernels. Structure as int8_tmpl.h: no prefetch, overlapping last vector. */
#include "intq_kernels.h"
#include "x86_vec.h"

/* W floats -> W int32, x*inv rounded half to even regardless of MXCSR. |x*inv| <= L(1 + 2^-22)
 * since |x| <= m and inv = RN(L/m), so no value rounds past L and the saturating packs below never
 * clip: they only narrow. */
VX_INLINE vi q32(const float *p, vf inv) { return vf_round_i32(vf_mul(vf_loadu(p), inv)); }

/* 2W floats -> 2W int16 codes in order (packs work per 128-bit lane; the permute undoes that), and
 * W floats -> W codes in a half-width vector. */
#if VEC_W == 8
VX_INLINE vi q16x2w(const float *p, vf inv) {
  __m256i ab = _mm256_packs_epi32(q32(p, inv), q32(p + 8, inv));
  return _mm256_permute4x64_epi64(ab, _MM_SHUFFLE(3, 1, 2, 0));
}
VX_INLINE void q16_store_w(uint8_t *q, const float *p, vf inv) {
  __m256i c = q32(p, inv);
  _mm_storeu_si128((__m128i *)q,
                   _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1)));
}
/* W int16 codes -> W floats times s. */
VX_INLINE vf dq16(const uint8_t *p, vf s) {
  __m256i v = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)p));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(v), s);
}
#else
VX_INLINE vi q16x2w(const float *p, vf inv) {
  __m512i ab = _mm512_packs_epi32(q32(p, inv), q32(p + 16, inv));
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), ab);
}
VX_INLINE void q16_store_w(uint8_t *q, const float *p, vf inv) {
  _mm256_storeu_si256((__m256i *)q, _mm512_cvtsepi32_epi16(q32(p, inv)));
}
VX_INLINE vf dq16(const uint8_t *p, vf s) {
  __m512i v = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)p));
  return _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
}
#endif

size_t VEC_SFX(vec_intq_encode_i16_)(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                     size_t ldq, float *scales, unsigned flags) {
  if (d < VEC_W) return vec_intq_encode_i16_scalar(x, n, d, ldx, q, ldq, scales, flags);
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * ldq;
    uint32_t amax = vx_amax_bits(row, d);
    float m = vec_u2f(amax);
    int kind = vec_int8_row_kind(amax);
    if (kind == VEC_ROW_NONFINITE) {
      if (streamed) _mm_sfence();
      return i;
    }
    if (kind == VEC_ROW_ZERO) {
      memset(qr, 0, 2 * d);
      scales[i] = 0.0f;
      continue;
    }
    scales[i] = vec_intq_scale(m, (float)VEC_I16_L);
    if (kind == VEC_ROW_TINY) {
      vec_intq_quant_i16_scalar(row, 0, d, 0x1p96f, (float)VEC_I16_L / (m * 0x1p96f), qr);
      continue;
    }
    const vf inv = vf_set1((float)VEC_I16_L / m);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % (2 * VEC_W) == 0 &&
        ((uintptr_t)qr & (VEC_VBYTES - 1)) == 0) {
      for (; j < d; j += 2 * VEC_W) vi_stream(qr + 2 * j, q16x2w(row + j, inv));
      streamed = 1;
      continue;
    }
    for (; j + 2 * VEC_W <= d; j += 2 * VEC_W) vi_storeu(qr + 2 * j, q16x2w(row + j, inv));
    for (; j + VEC_W <= d; j += VEC_W) q16_store_w(qr + 2 * j, row + j, inv);
    if (j < d) q16_store_w(qr + 2 * (d - VEC_W), row + d - VEC_W, inv);
  }
  if (streamed) _mm_sfence();
  return n;
}

void VEC_SFX(vec_intq_decode_i16_)(const uint8_t *q, size_t n, size_t d, size_t ldq,
                                   const float *scales, float *out, size_t ldo, unsigned flags) {
  if (d < VEC_W) {
    vec_intq_decode_i16_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const vf s = vf_set1(scales[i]);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % VEC_W == 0 && ((uintptr_t)o & (VEC_VBYTES - 1)) == 0) {
      for (; j < d; j += VEC_W) vf_stream(o + j, dq16(qr + 2 * j, s));
      streamed = 1;
      continue;
    }
    for (; j + 2 * VEC_W <= d; j += 2 * VEC_W) {
      vf_storeu(o + j, dq16(qr + 2 * j, s));
      vf_storeu(o + j + VEC_W, dq16(qr + 2 * (j + VEC_W), s));
    }
    for (; j + VEC_W <= d; j += VEC_W) vf_storeu(o + j, dq16(qr + 2 * j, s));
    if (j < d) vf_storeu(o + d - VEC_W, dq16(qr + 2 * (d - VEC_W), s));
  }
  if (streamed) _mm_sfence();
}
