/* intq_avx512.c: AVX-512 F/BW/VL kernels of the int16 and int4 codecs: int16 from intq_i16_tmpl.h
 * at 16 lanes, then the int4 kernels (intq_avx2.c's structure at twice the width). */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "intq_i16_tmpl.h"

/* ---- int4 ---- */

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

static inline void put16(uint8_t *p, __m128i v, int stream) {
  if (stream)
    _mm_stream_si128((__m128i *)p, v);
  else
    _mm_storeu_si128((__m128i *)p, v);
}

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

static int enc4_seg(const float *x, size_t len, uint8_t *q, float *scale, int stream) {
  if (len < 32) return vec_intq_encode_i4_seg_scalar(x, len, q, scale);
  uint32_t amax = vx_amax_bits(x, len);
  float m = vec_u2f(amax);
  switch (vec_int8_row_kind(amax)) {
  case VEC_ROW_NONFINITE: return 1;
  case VEC_ROW_ZERO:
    memset(q, 0, (len + 1) / 2);
    *scale = 0.0f;
    return 0;
  case VEC_ROW_TINY: vec_intq_encode_i4_tiny_seg(x, len, amax, q, scale); return 0;
  default: break;
  }
  *scale = vec_intq_scale(m, (float)VEC_I4_L);
  const float invs = (float)VEC_I4_L / m;
  const __m512 inv = _mm512_set1_ps(invs);
  const size_t le = len & ~(size_t)1;
  size_t j = 0;
  for (; j + 64 <= le; j += 64) put32(q + j / 2, q4x64(x + j, inv, inv), stream);
  for (; j + 32 <= le; j += 32) put16(q + j / 2, q4x32(x + j, inv), stream);
  if (j < le) put16(q + (le - 32) / 2, q4x32(x + le - 32, inv), 0);
  if (le < len) vec_intq_quant_i4_scalar(x, le, len, 1.0f, invs, q);
  return 0;
}

/* Per-lane max of one group of 32 floats' |x| bits, in 8 lanes. Four 256-bit loads, not two
 * 512-bit ones and a fold: the fold (an extract feeding a max) made this path 35% slower from RAM
 * on the development CPU (14.5 against 22.5 GB/s). */
static inline __m256i abs8(const float *p) {
  return _mm256_and_si256(_mm256_loadu_si256((const __m256i *)p),
                          _mm256_set1_epi32((int)VEC_ABS_MASK));
}
static inline __m256i gmax32(const float *p) {
  return _mm256_max_epu32(_mm256_max_epu32(abs8(p), abs8(p + 8)),
                          _mm256_max_epu32(abs8(p + 16), abs8(p + 24)));
}

/* Eight vectors -> their eight horizontal maxima in order (see intq_avx2.c). */
static inline __m256i reduce8(const __m256i *a) {
  __m256i p[4], r[2];
  for (int t = 0; t < 4; t++)
    p[t] = _mm256_max_epu32(_mm256_unpacklo_epi32(a[2 * t], a[2 * t + 1]),
                            _mm256_unpackhi_epi32(a[2 * t], a[2 * t + 1]));
  for (int t = 0; t < 2; t++)
    r[t] = _mm256_max_epu32(_mm256_unpacklo_epi64(p[2 * t], p[2 * t + 1]),
                            _mm256_unpackhi_epi64(p[2 * t], p[2 * t + 1]));
  return _mm256_max_epu32(_mm256_permute2x128_si256(r[0], r[1], 0x20),
                          _mm256_permute2x128_si256(r[0], r[1], 0x31));
}

/* A row in groups of 32, eight at a time (see enc4_row_g32 in intq_avx2.c). */
static int enc4_row_g32(const float *row, size_t d, uint8_t *qr, float *sr, int stream) {
  const size_t G = d / 32;
  const __m256 L = _mm256_set1_ps((float)VEC_I4_L);
  size_t k = 0;
  for (; k + 8 <= G; k += 8) {
    const float *p = row + 32 * k;
    __m256i a[8];
    for (int t = 0; t < 8; t++) a[t] = gmax32(p + 32 * t);
    const __m256i am = reduce8(a);
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
    for (int t = 0; t < 8; t += 2)
      put32(qr + 16 * (k + t),
            q4x64(p + 32 * t, _mm512_set1_ps(invs[t]), _mm512_set1_ps(invs[t + 1])), stream);
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

/* A row in groups of g < 32 dims (see enc4_row_small in intq_avx2.c). */
static int enc4_row_small(const float *row, size_t d, size_t g, uint8_t *qr, float *sr) {
  float invb[VEC_I4_CHUNK];
  uint32_t amx[VEC_I4_CHUNK / 2];
  const size_t per = VEC_I4_CHUNK / g * g;
  for (size_t c0 = 0; c0 < d; c0 += per) {
    const size_t cl = d - c0 < per ? d - c0 : per, ng = (cl + g - 1) / g;
    const float *x = row + c0;
    uint8_t *q = qr + c0 / 2;
    float *s = sr + c0 / g;
    if (cl < 32) {
      for (size_t k = 0, j = 0; j < cl; k++, j += g)
        if (vec_intq_encode_i4_seg_scalar(x + j, cl - j < g ? cl - j : g, q + j / 2, s + k))
          return 1;
      return 0;
    }
    int any_tiny = 0;
    for (size_t k = 0, j = 0; j < cl; k++, j += g) {
      const size_t len = cl - j < g ? cl - j : g;
      const uint32_t a = vec_intq_amax_bits(x + j, len);
      const int kind = vec_int8_row_kind(a);
      if (kind == VEC_ROW_NONFINITE) return 1;
      any_tiny |= kind == VEC_ROW_TINY;
      const float m = vec_u2f(a), inv = kind == VEC_ROW_NORMAL ? (float)VEC_I4_L / m : 0.0f;
      s[k] = vec_intq_scale(m, (float)VEC_I4_L);
      for (size_t t = 0; t < len; t++) invb[j + t] = inv;
      amx[k] = a;
    }
    const size_t le = cl & ~(size_t)1;
    size_t j = 0;
    for (; j + 32 <= le; j += 32) put16(q + j / 2, q4x32v(x + j, invb + j), 0);
    if (j < le) put16(q + (le - 32) / 2, q4x32v(x + le - 32, invb + le - 32), 0);
    if (le < cl) vec_intq_quant_i4_scalar(x, le, cl, 1.0f, invb[le], q);
    if (VEC_UNLIKELY(any_tiny))
      for (size_t k = 0; k < ng; k++)
        if (vec_int8_row_kind(amx[k]) == VEC_ROW_TINY)
          vec_intq_encode_i4_tiny_seg(x + k * g, cl - k * g < g ? cl - k * g : g, amx[k],
                                      q + k * g / 2, s + k);
  }
  return 0;
}

size_t vec_intq_encode_i4_avx512(const float *x, size_t n, size_t d, size_t g, size_t ldx,
                                 uint8_t *q, size_t ldq, float *scales, size_t lds,
                                 unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * ldq;
    float *sr = scales + i * lds;
    int stream = (flags & VEC_KF_STREAM) && d % 32 == 0 && g % 32 == 0 && ((uintptr_t)qr & 15) == 0;
    streamed |= stream;
    int bad = 0;
    if (g == 32) {
      bad = enc4_row_g32(row, d, qr, sr, stream);
    } else if (g < 32) {
      bad = enc4_row_small(row, d, g, qr, sr);
    } else {
      for (size_t k = 0, j = 0; j < d && !bad; k++, j += g)
        bad = enc4_seg(row + j, d - j < g ? d - j : g, qr + j / 2, sr + k, stream);
    }
    if (bad) {
      if (streamed) _mm_sfence();
      return i;
    }
  }
  if (streamed) _mm_sfence();
  return n;
}

/* 16 bytes -> 32 floats (nibbles to signed bytes by table, interleaved back into element order). */
static inline void dq4x32v(const uint8_t *p, __m512 s0, __m512 s1, __m512 r[2]) {
  const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  const __m128i nib = _mm_set1_epi8(0x0f);
  __m128i b = _mm_loadu_si128((const __m128i *)p);
  __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(b, nib));
  __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(b, 4), nib));
  r[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpacklo_epi8(lo, hi))), s0);
  r[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpackhi_epi8(lo, hi))), s1);
}

static inline void dq4x32(const uint8_t *p, __m512 s, __m512 r[2]) { dq4x32v(p, s, s, r); }

static inline void put32f(float *o, const __m512 r[2], int stream) {
  if (stream) {
    _mm512_stream_ps(o, r[0]);
    _mm512_stream_ps(o + 16, r[1]);
  } else {
    _mm512_storeu_ps(o, r[0]);
    _mm512_storeu_ps(o + 16, r[1]);
  }
}

static void dec4_seg(const uint8_t *q, size_t len, float s, float *o, int stream) {
  if (len < 32) {
    vec_intq_decode_i4_seg_scalar(q, 0, len, s, o);
    return;
  }
  const __m512 sv = _mm512_set1_ps(s);
  const size_t le = len & ~(size_t)1;
  __m512 r[2];
  size_t j = 0;
  for (; j + 32 <= le; j += 32) {
    dq4x32(q + j / 2, sv, r);
    put32f(o + j, r, stream);
  }
  if (j < le) {
    dq4x32(q + (le - 32) / 2, sv, r);
    put32f(o + le - 32, r, 0);
  }
  if (le < len) vec_intq_decode_i4_seg_scalar(q, le, len, s, o);
}

/* Groups of g < 32 dims: per-element scales in a buffer (see dec4_row_small in intq_avx2.c). */
static void dec4_row_small(const uint8_t *qr, size_t d, size_t g, const float *sr, float *o) {
  float sb[VEC_I4_CHUNK];
  const size_t per = VEC_I4_CHUNK / g * g;
  for (size_t c0 = 0; c0 < d; c0 += per) {
    const size_t cl = d - c0 < per ? d - c0 : per;
    const uint8_t *q = qr + c0 / 2;
    const float *s = sr + c0 / g;
    if (cl < 32) {
      for (size_t k = 0, j = 0; j < cl; k++, j += g)
        vec_intq_decode_i4_seg_scalar(q, j, cl - j < g ? cl : j + g, s[k], o + c0);
      return;
    }
    for (size_t k = 0, j = 0; j < cl; k++, j += g)
      for (size_t t = j; t < cl && t < j + g; t++) sb[t] = s[k];
    const size_t le = cl & ~(size_t)1;
    __m512 r[2];
    for (size_t j = 0;; j += 32) {
      if (j + 32 > le) {
        if (j == le) break;
        j = le - 32; /* overlapping last block */
      }
      dq4x32v(q + j / 2, _mm512_loadu_ps(sb + j), _mm512_loadu_ps(sb + j + 16), r);
      put32f(o + c0 + j, r, 0);
    }
    if (le < cl) vec_intq_decode_i4_seg_scalar(q, le, cl, sb[le], o + c0);
  }
}

void vec_intq_decode_i4_avx512(const uint8_t *q, size_t n, size_t d, size_t g, size_t ldq,
                               const float *scales, size_t lds, float *out, size_t ldo,
                               unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    const float *sr = scales + i * lds;
    float *o = out + i * ldo;
    int stream = (flags & VEC_KF_STREAM) && d % 32 == 0 && g % 32 == 0 && ((uintptr_t)o & 63) == 0;
    streamed |= stream;
    if (g < 32) {
      dec4_row_small(qr, d, g, sr, o);
    } else if (g == 32) { /* whole groups inline; only the last, short one goes through dec4_seg */
      __m512 r[2];
      size_t k = 0;
      for (; 32 * k + 32 <= d; k++) {
        dq4x32(qr + 16 * k, _mm512_set1_ps(sr[k]), r);
        put32f(o + 32 * k, r, stream);
      }
      if (32 * k < d) dec4_seg(qr + 16 * k, d - 32 * k, sr[k], o + 32 * k, 0);
    } else {
      for (size_t k = 0, j = 0; j < d; k++, j += g)
        dec4_seg(qr + j / 2, d - j < g ? d - j : g, sr[k], o + j, stream);
    }
  }
  if (streamed) _mm_sfence();
}
