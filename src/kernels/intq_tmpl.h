/* intq_tmpl.h: the x86 kernels of the int16 and int4 codecs, written once for W = VEC_W lanes:
 * intq_avx2.c and intq_avx512.c define VEC_W and include it. int16 is here whole; int4 gets its
 * vector steps here and its row logic from intq_i4_tmpl.h, which NEON shares. Structure as
 * int8_tmpl.h: no prefetch, overlapping last vector. */
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

/* ---- int4: the vector steps intq_i4_tmpl.h is written in ---- */

#if VEC_W == 8
/* 32 floats -> 16 bytes of nibble pairs. The packs leave 4-element blocks out of order (lane 0:
 * a0-3 b0-3 c0-3 d0-3, lane 1: a4-7 ...), but each element pair (2k, 2k+1) stays adjacent, so
 * pairs are joined first (maddubs: lo*1 + hi*16 of the low nibbles) and the 16-bit pair units are
 * put back in order once, by one byte shuffle. */
static inline __m128i q4_pack(__m256i q0, __m256i q1, __m256i q2, __m256i q3) {
  __m256i ab = _mm256_packs_epi32(q0, q1), cd = _mm256_packs_epi32(q2, q3);
  __m256i v = _mm256_and_si256(_mm256_packs_epi16(ab, cd), _mm256_set1_epi8(0x0f));
  __m256i t = _mm256_maddubs_epi16(v, _mm256_set1_epi16(0x1001));
  __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  return _mm_shuffle_epi8(b, _mm_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15));
}

static inline __m128i q4x32(const float *p, __m256 inv) {
  return q4_pack(q32(p, inv), q32(p + 8, inv), q32(p + 16, inv), q32(p + 24, inv));
}

/* The same with a multiplier per element (inv[0..32)). */
static inline __m256i q32v(const float *p, const float *inv) {
  return q32(p, _mm256_loadu_ps(inv));
}
static inline __m128i q4x32v(const float *p, const float *inv) {
  return q4_pack(q32v(p, inv), q32v(p + 8, inv + 8), q32v(p + 16, inv + 16),
                 q32v(p + 24, inv + 24));
}
#else
/* Element pairs (2k, 2k+1) -> one byte: low nibbles joined as lo*1 + hi*16 (maddubs), each in a
 * 16-bit unit; the units are in element order whenever the bytes were. */
static inline __m512i pairs512(__m512i v) {
  return _mm512_maddubs_epi16(_mm512_and_si512(v, _mm512_set1_epi8(0x0f)),
                              _mm512_set1_epi16(0x1001));
}

/* 64 floats -> 32 code bytes; the first 32 floats use inv0, the last 32 inv1 (two groups of 32,
 * or one row with inv0 == inv1). The packs interleave 4-element blocks per lane; the dword permute
 * (as int8's q8x64) restores element order. */
static inline __m256i q4x64(const float *p, __m512 inv0, __m512 inv1) {
  __m512i ab = _mm512_packs_epi32(q32(p, inv0), q32(p + 16, inv0));
  __m512i cd = _mm512_packs_epi32(q32(p + 32, inv1), q32(p + 48, inv1));
  __m512i abcd = _mm512_packs_epi16(ab, cd);
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_cvtepi16_epi8(pairs512(_mm512_permutexvar_epi32(idx, abcd)));
}

/* 32 floats -> 16 code bytes (narrowing conversions keep element order). */
static inline __m128i q4_pack(__m512i q0, __m512i q1) {
  __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtsepi32_epi8(q0)),
                                      _mm512_cvtsepi32_epi8(q1), 1);
  __m256i t =
      _mm256_maddubs_epi16(_mm256_and_si256(v, _mm256_set1_epi8(0x0f)), _mm256_set1_epi16(0x1001));
  return _mm256_cvtepi16_epi8(t);
}

static inline __m128i q4x32(const float *p, __m512 inv) {
  return q4_pack(q32(p, inv), q32(p + 16, inv));
}

/* The same with a multiplier per element (inv[0..32)). */
static inline __m128i q4x32v(const float *p, const float *inv) {
  return q4_pack(q32(p, _mm512_loadu_ps(inv)), q32(p + 16, _mm512_loadu_ps(inv + 16)));
}
#endif

static inline void put16(uint8_t *p, __m128i v, int stream) {
  if (stream)
    _mm_stream_si128((__m128i *)p, v);
  else
    _mm_storeu_si128((__m128i *)p, v);
}

#if VEC_W == 16
/* stream: every store is whole and 16-byte aligned; 32-byte ones are split where not 32-aligned
 * (segments of g = 32 * odd dims start at 16-byte offsets). */
static inline void put32(uint8_t *p, __m256i v, int stream) {
  if (stream && ((uintptr_t)p & 31) == 0) {
    _mm256_stream_si256((__m256i *)p, v);
  } else if (stream) {
    _mm_stream_si128((__m128i *)p, _mm256_castsi256_si128(v));
    _mm_stream_si128((__m128i *)(p + 16), _mm256_extracti128_si256(v, 1));
  } else {
    _mm256_storeu_si256((__m256i *)p, v);
  }
}
#endif

/* 64 floats a step where a vector holds 16 (the 32-float steps follow in intq_i4_tmpl.h). */
VX_INLINE size_t enc4_wide(const float *x, size_t le, uint8_t *q, vf inv, int stream) {
  size_t j = 0;
#if VEC_W == 16
  for (; j + 64 <= le; j += 64) put32(q + j / 2, q4x64(x + j, inv, inv), stream);
#else
  (void)x, (void)le, (void)q, (void)inv, (void)stream;
#endif
  return j;
}

/* 16 bytes -> 32 floats: nibbles to signed bytes by a 16-entry table, then interleaved back into
 * element order (low nibble first), each times its scale, stored at o. */
#if VEC_W == 8
static inline void dq4x32v(const uint8_t *p, const __m256 s[4], __m256 r[4]) {
  const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  const __m128i nib = _mm_set1_epi8(0x0f);
  __m128i b = _mm_loadu_si128((const __m128i *)p);
  __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(b, nib));
  __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(b, 4), nib));
  __m128i e0 = _mm_unpacklo_epi8(lo, hi), e1 = _mm_unpackhi_epi8(lo, hi);
  r[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e0)), s[0]);
  r[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(e0, 8))), s[1]);
  r[2] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e1)), s[2]);
  r[3] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(e1, 8))), s[3]);
}
#else
static inline void dq4x32v(const uint8_t *p, const __m512 s[2], __m512 r[2]) {
  const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  const __m128i nib = _mm_set1_epi8(0x0f);
  __m128i b = _mm_loadu_si128((const __m128i *)p);
  __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(b, nib));
  __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(b, 4), nib));
  r[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpacklo_epi8(lo, hi))), s[0]);
  r[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpackhi_epi8(lo, hi))), s[1]);
}
#endif

#define I4_NV (32 / VEC_W) /* vectors in 32 floats */

VX_INLINE void put32f(float *o, const vf r[I4_NV], int stream) {
  for (int t = 0; t < I4_NV; t++) {
    if (stream)
      vf_stream(o + VEC_W * t, r[t]);
    else
      vf_storeu(o + VEC_W * t, r[t]);
  }
}

VX_INLINE void dq4_put(const uint8_t *p, vf s, float *o, int stream) {
  vf sv[I4_NV], r[I4_NV];
  for (int t = 0; t < I4_NV; t++) sv[t] = s;
  dq4x32v(p, sv, r);
  put32f(o, r, stream);
}

VX_INLINE void dq4v_put(const uint8_t *p, const float *sb, float *o) {
  vf sv[I4_NV], r[I4_NV];
  for (int t = 0; t < I4_NV; t++) sv[t] = vf_loadu(sb + VEC_W * t);
  dq4x32v(p, sv, r);
  put32f(o, r, 0);
}

#if VEC_W == 8
#define I4_DEC_SEG_INLINE inline /* see intq_i4_tmpl.h */
#endif
#define I4_CAN_STREAM 1
#define I4_OUT_ALIGN  (VEC_VBYTES - 1)
#define i4_vf         vf
#define i4_splat(f)   vf_set1(f)
#define i4_amax(x, n) vx_amax_bits(x, n)
#define i4_sfence()   _mm_sfence()
#include "intq_i4_tmpl.h"

/* Per-lane max of one group of 32 floats' |x| bits, in 8 lanes whatever W is. Four 256-bit loads,
 * not two 512-bit ones and a fold: on AVX-512 the fold (an extract feeding a max) made this path
 * 35% slower from RAM on the development CPU (14.5 against 22.5 GB/s). */
static inline __m256i abs8(const float *p) {
  return _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p),
                          _mm256_set1_epi32((int)VEC_ABS_MASK));
}
static inline __m256i gmax32(const float *p) {
  return _mm256_max_epu32(_mm256_max_epu32(abs8(p), abs8(p + 8)),
                          _mm256_max_epu32(abs8(p + 16), abs8(p + 24)));
}

/* Eight vectors -> one vector of their eight horizontal maxima, in order (a transpose-reduce: 21
 * operations instead of 8 separate horizontal reductions of 5 each). */
static inline __m256i reduce8(const __m256i *a) {
  __m256i p[4], r[2];
  for (int t = 0; t < 4; t++) /* per lane: g0 g1 g0 g1 (partials) */
    p[t] = _mm256_max_epu32(_mm256_unpacklo_epi32(a[2 * t], a[2 * t + 1]),
                            _mm256_unpackhi_epi32(a[2 * t], a[2 * t + 1]));
  for (int t = 0; t < 2; t++) /* per lane: g0 g1 g2 g3 */
    r[t] = _mm256_max_epu32(_mm256_unpacklo_epi64(p[2 * t], p[2 * t + 1]),
                            _mm256_unpackhi_epi64(p[2 * t], p[2 * t + 1]));
  return _mm256_max_epu32(_mm256_permute2x128_si256(r[0], r[1], 0x20),
                          _mm256_permute2x128_si256(r[0], r[1], 0x31));
}

/* A row in groups of 32: eight groups at a time, their maxima, reciprocals and scales computed
 * together (one vector division each instead of sixteen scalar ones). Zero groups get inv = 0
 * (codes 0, scale 0/7 = 0) rather than relying on what NaN converts to; tiny groups are redone
 * afterwards by the shared scalar path. */
static int enc4_row_g32(const float *row, size_t d, uint8_t *qr, float *sr, int stream) {
  const size_t G = d / 32;
  const __m256 L = _mm256_set1_ps((float)VEC_I4_L);
  size_t k = 0;
  for (; k + 8 <= G; k += 8) {
    const float *p = row + 32 * k;
    __m256i a[8];
    for (int t = 0; t < 8; t++) a[t] = gmax32(p + 32 * t);
    const __m256i am = reduce8(a);
    /* |x| bits are <= 0x7fffffff, so signed compares order them correctly */
    if (_mm256_movemask_epi8(
            _mm256_cmpgt_epi32(am, _mm256_set1_epi32((int)(VEC_NONFINITE_BITS - 1)))))
      return 1;
    const __m256i zero = _mm256_cmpeq_epi32(am, _mm256_setzero_si256());
    const __m256 m = _mm256_castsi256_ps(am);
    const __m256 s = _mm256_div_ps(m, L);
    const __m256 inv = _mm256_andnot_ps(_mm256_castsi256_ps(zero), _mm256_div_ps(L, m));
    /* No vec_intq_scale step down for L = 7: 7 * RN(m / 7) is finite for every finite m (it could
     * only overflow within a few ulps of FLT_MAX; checked over the top 10^6 floats, where L = 127
     * and 32767 do overflow at FLT_MAX; special_groups pins both facts). */
    _mm256_storeu_ps(sr + k, s);
    const int tiny = _mm256_movemask_ps(_mm256_castsi256_ps(
        _mm256_andnot_si256(zero, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)VEC_TINY_BITS), am))));
    float invs[8];
    _mm256_storeu_ps(invs, inv);
#if VEC_W == 8
    for (int t = 0; t < 8; t++)
      put16(qr + 16 * (k + t), q4x32(p + 32 * t, _mm256_set1_ps(invs[t])), stream);
#else
    for (int t = 0; t < 8; t += 2)
      put32(qr + 16 * (k + t),
            q4x64(p + 32 * t, _mm512_set1_ps(invs[t]), _mm512_set1_ps(invs[t + 1])), stream);
#endif
    if (VEC_UNLIKELY(tiny)) {
      if (stream) _mm_sfence(); /* the rewrite below must land after the streamed stores */
      uint32_t ams[8];
      _mm256_storeu_si256((__m256i *)ams, am);
      for (int t = 0; t < 8; t++)
        if (tiny >> t & 1)
          vec_intq_encode_i4_tiny_seg(p + 32 * t, 32, ams[t], qr + 16 * (k + t), sr + k + t);
    }
  }
  for (; k < G; k++)
    if (enc4_seg(row + 32 * k, 32, qr + 16 * k, sr + k, stream)) return 1;
  if (d > 32 * G) return enc4_seg(row + 32 * G, d - 32 * G, qr + 16 * G, sr + G, 0);
  return 0;
}
