/* x86_vec.h: the vector operations the x86 kernel templates (*_tmpl.h) are written in, for one
 * width: VEC_W = 8 (AVX2, __m256) or 16 (AVX-512 F/BW/VL, __m512) 32-bit lanes. An AVX2/AVX-512
 * pair that differs only in width is one template: its *_avx2.c and *_avx512.c define VEC_W and
 * the template's suffix, include this, then the template (libdeflate's lib/x86/adler32_template.h).
 * Each operation is the very instruction sequence the twins used, so codes stay bit for bit. */
#ifndef VEC_X86_VEC_H
#define VEC_X86_VEC_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(VEC_W) || (VEC_W != 8 && VEC_W != 16)
#error "define VEC_W as 8 (AVX2) or 16 (AVX-512) before including x86_vec.h"
#endif

#define VX_INLINE  static inline __attribute__((always_inline))
#define VEC_VBYTES (VEC_W * 4) /* bytes of one vector: the alignment streaming stores need */

#if VEC_W == 8
typedef __m256 vf;
typedef __m256i vi;
VX_INLINE vf vf_loadu(const float *p) { return _mm256_loadu_ps(p); }
VX_INLINE void vf_storeu(float *p, vf v) { _mm256_storeu_ps(p, v); }
VX_INLINE void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
VX_INLINE vf vf_set1(float x) { return _mm256_set1_ps(x); }
VX_INLINE vf vf_zero(void) { return _mm256_setzero_ps(); }
VX_INLINE vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
VX_INLINE vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
VX_INLINE vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
VX_INLINE vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
VX_INLINE vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
VX_INLINE vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
VX_INLINE vf vf_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); } /* a * b + c */
VX_INLINE vi vf_bits(vf a) { return _mm256_castps_si256(a); }
VX_INLINE vf vi_to_vf(vi a) { return _mm256_cvtepi32_ps(a); }
/* Zero where s == 0 (a constant dimension), v elsewhere. */
VX_INLINE vf vf_zero_where_zero(vf s, vf v) {
  return _mm256_andnot_ps(_mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_EQ_OQ), v);
}
/* To int32, rounding half to even / toward zero whatever MXCSR says. */
VX_INLINE vi vf_round_i32(vf v) {
  return _mm256_cvttps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
VX_INLINE vi vf_trunc_i32(vf v) { return _mm256_cvttps_epi32(v); }

VX_INLINE vi vi_loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
VX_INLINE void vi_storeu(void *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }
VX_INLINE void vi_stream(void *p, vi v) { _mm256_stream_si256((__m256i *)p, v); }
VX_INLINE vi vi_zero(void) { return _mm256_setzero_si256(); }
VX_INLINE vi vi_set1_32(uint32_t x) { return _mm256_set1_epi32((int)x); }
VX_INLINE vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
VX_INLINE vi vi_max_u32(vi a, vi b) { return _mm256_max_epu32(a, b); }
/* Whether any lane of a is >= the same lane of t (unsigned). */
VX_INLINE int vi_any_ge_u32(vi a, vi t) {
  __m256i hit = _mm256_cmpeq_epi32(_mm256_max_epu32(a, t), a);
  return _mm256_movemask_ps(_mm256_castsi256_ps(hit)) != 0;
}
VX_INLINE uint32_t vi_hmax_u32(vi v) {
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return (uint32_t)_mm_cvtsi128_si32(m);
}
/* W int8 / uint8 codes at p -> W int32 lanes. */
VX_INLINE vi vi_load_i8(const void *p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
VX_INLINE vi vi_load_u8(const void *p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
/* Four vectors of int32 -> 4W bytes in order, saturating to int8 (s8) or uint8 (u8); `flip` is
 * XORed into the bytes before the final lane permute (0x80 turns levels into int8 codes). */
VX_INLINE vi vi_order_bytes(vi p) {
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
VX_INLINE vi vi_pack4_s8(vi a, vi b, vi c, vi d) {
  return vi_order_bytes(_mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d)));
}
VX_INLINE vi vi_pack4_u8(vi a, vi b, vi c, vi d, int flip) {
  __m256i u = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  if (flip) u = _mm256_xor_si256(u, _mm256_set1_epi8((char)0x80));
  return vi_order_bytes(u);
}
/* W int32 lanes, each already in its byte's range, -> W bytes at p (XOR 0x80 when flip). */
VX_INLINE void vi_store_bytes(void *p, vi c, int flip) {
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
  __m128i b = _mm_packus_epi16(w, w);
  if (flip) b = _mm_xor_si128(b, _mm_set1_epi8((char)0x80));
  _mm_storel_epi64((__m128i *)p, b);
}
/* W int32 lanes in [-127, 127] -> W int8 codes at p. */
VX_INLINE void vi_store_s8(void *p, vi c) {
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
  _mm_storel_epi64((__m128i *)p, _mm_packs_epi16(w, w));
}
#else
typedef __m512 vf;
typedef __m512i vi;
VX_INLINE vf vf_loadu(const float *p) { return _mm512_loadu_ps(p); }
VX_INLINE void vf_storeu(float *p, vf v) { _mm512_storeu_ps(p, v); }
VX_INLINE void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
VX_INLINE vf vf_set1(float x) { return _mm512_set1_ps(x); }
VX_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
VX_INLINE vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
VX_INLINE vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
VX_INLINE vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
VX_INLINE vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
VX_INLINE vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
VX_INLINE vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
VX_INLINE vf vf_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
VX_INLINE vi vf_bits(vf a) { return _mm512_castps_si512(a); }
VX_INLINE vf vi_to_vf(vi a) { return _mm512_cvtepi32_ps(a); }
VX_INLINE vf vf_zero_where_zero(vf s, vf v) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_NEQ_UQ), v);
}
/* The rounding mode is encoded in the conversion itself. */
VX_INLINE vi vf_round_i32(vf v) {
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
VX_INLINE vi vf_trunc_i32(vf v) {
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
}

VX_INLINE vi vi_loadu(const void *p) { return _mm512_loadu_si512(p); }
VX_INLINE void vi_storeu(void *p, vi v) { _mm512_storeu_si512(p, v); }
VX_INLINE void vi_stream(void *p, vi v) { _mm512_stream_si512((__m512i *)p, v); }
VX_INLINE vi vi_zero(void) { return _mm512_setzero_si512(); }
VX_INLINE vi vi_set1_32(uint32_t x) { return _mm512_set1_epi32((int)x); }
VX_INLINE vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
VX_INLINE vi vi_max_u32(vi a, vi b) { return _mm512_max_epu32(a, b); }
VX_INLINE int vi_any_ge_u32(vi a, vi t) { return _mm512_cmpge_epu32_mask(a, t) != 0; }
VX_INLINE uint32_t vi_hmax_u32(vi v) { return _mm512_reduce_max_epu32(v); }
VX_INLINE vi vi_load_i8(const void *p) {
  return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
}
VX_INLINE vi vi_load_u8(const void *p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
VX_INLINE vi vi_order_bytes(vi p) {
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(idx, p);
}
VX_INLINE vi vi_pack4_s8(vi a, vi b, vi c, vi d) {
  return vi_order_bytes(_mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d)));
}
VX_INLINE vi vi_pack4_u8(vi a, vi b, vi c, vi d, int flip) {
  __m512i u = _mm512_packus_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
  if (flip) u = _mm512_xor_si512(u, _mm512_set1_epi8((char)0x80));
  return vi_order_bytes(u);
}
/* A plain narrowing: every lane is already in its byte's range. */
VX_INLINE void vi_store_bytes(void *p, vi c, int flip) {
  __m128i b = _mm512_cvtepi32_epi8(c);
  if (flip) b = _mm_xor_si128(b, _mm_set1_epi8((char)0x80));
  _mm_storeu_si128((__m128i *)p, b);
}
VX_INLINE void vi_store_s8(void *p, vi c) {
  _mm_storeu_si128((__m128i *)p, _mm512_cvtsepi32_epi8(c));
}
#endif

/* |x| bit patterns of W floats at p: compared as unsigned integers they order like |x|, and NaN/Inf
 * sit above every finite value (int8_row.h). */
VX_INLINE vi vx_abs_bits(const float *p) { return vi_and(vi_loadu(p), vi_set1_32(0x7fffffffu)); }

/* Max of the |x| bit patterns of row[0..d), d >= W: four independent chains, then W-wide steps,
 * then an overlapping last vector. */
VX_INLINE uint32_t vx_amax_bits(const float *row, size_t d) {
  vi m0 = vi_zero(), m1 = m0, m2 = m0, m3 = m0;
  size_t j = 0;
  for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {
    m0 = vi_max_u32(m0, vx_abs_bits(row + j));
    m1 = vi_max_u32(m1, vx_abs_bits(row + j + VEC_W));
    m2 = vi_max_u32(m2, vx_abs_bits(row + j + 2 * VEC_W));
    m3 = vi_max_u32(m3, vx_abs_bits(row + j + 3 * VEC_W));
  }
  for (; j + VEC_W <= d; j += VEC_W) m0 = vi_max_u32(m0, vx_abs_bits(row + j));
  if (j < d) m1 = vi_max_u32(m1, vx_abs_bits(row + d - VEC_W));
  return vi_hmax_u32(vi_max_u32(vi_max_u32(m0, m1), vi_max_u32(m2, m3)));
}

/* Pastes the template's suffix onto a name: VEC_SFX(vec_cal_encode_) -> vec_cal_encode_avx2. */
#define VEC_SFX_(a, b)  a##b
#define VEC_SFX_X(a, b) VEC_SFX_(a, b)
#define VEC_SFX(name)   VEC_SFX_X(name, VEC_ISA_SUFFIX)

#endif
