/* intq_avx2.c: AVX2 kernels of the int16 and int4 codecs (compiled with -mavx2 -mfma; only called
 * when the CPU has them): int16 from intq_i16_tmpl.h at 8 lanes, then the int4 kernels. Structure
 * as int8_tmpl.h: no prefetch, overlapping last vector for tails. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "intq_i16_tmpl.h"

/* ---- int4 ---- */

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

static inline void put16(uint8_t *p, __m128i v, int stream) {
  if (stream)
    _mm_stream_si128((__m128i *)p, v);
  else
    _mm_storeu_si128((__m128i *)p, v);
}

/* One segment (group or row) of len floats; as vec_intq_encode_i4_seg_scalar. stream: len % 32 == 0
 * and q 16-byte aligned, so every store is a whole aligned one. */
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
  const __m256 inv = _mm256_set1_ps(invs);
  const size_t le = len & ~(size_t)1; /* the last pair's start stays even: byte aligned */
  size_t j = 0;
  for (; j + 32 <= le; j += 32) put16(q + j / 2, q4x32(x + j, inv), stream);
  if (j < le) put16(q + (le - 32) / 2, q4x32(x + le - 32, inv), 0);
  if (le < len) vec_intq_quant_i4_scalar(x, le, len, 1.0f, invs, q);
  return 0;
}

/* Per-lane max of 32 floats' |x| bits (one group of 32). */
static inline __m256i gmax32(const float *p) {
  return _mm256_max_epu32(_mm256_max_epu32(vx_abs_bits(p), vx_abs_bits(p + 8)),
                          _mm256_max_epu32(vx_abs_bits(p + 16), vx_abs_bits(p + 24)));
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
    for (int t = 0; t < 8; t++)
      put16(qr + 16 * (k + t), q4x32(p + 32 * t, _mm256_set1_ps(invs[t])), stream);
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

/* A row in groups of g < 32 dims, too short for a vector each. Chunks of whole groups (up to 256
 * dims) get their per-element multipliers written to a buffer, then are quantized 32 at a time as
 * a row is (tail overlapping within the chunk); zero groups get inv = 0, tiny groups are redone by
 * the scalar path. A last chunk shorter than 32 goes to the scalar path whole. */
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

size_t vec_intq_encode_i4_avx2(const float *x, size_t n, size_t d, size_t g, size_t ldx, uint8_t *q,
                               size_t ldq, float *scales, size_t lds, unsigned flags) {
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

/* 16 bytes -> 32 floats: nibbles to signed bytes by a 16-entry table, then interleaved back into
 * element order (low nibble first). */
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

static inline void dq4x32(const uint8_t *p, __m256 s, __m256 r[4]) {
  const __m256 sv[4] = {s, s, s, s};
  dq4x32v(p, sv, r);
}

static inline void put32f(float *o, const __m256 r[4], int stream) {
  for (int t = 0; t < 4; t++) {
    if (stream)
      _mm256_stream_ps(o + 8 * t, r[t]);
    else
      _mm256_storeu_ps(o + 8 * t, r[t]);
  }
}

static void dec4_seg(const uint8_t *q, size_t len, float s, float *o, int stream) {
  if (len < 32) {
    vec_intq_decode_i4_seg_scalar(q, 0, len, s, o);
    return;
  }
  const __m256 sv = _mm256_set1_ps(s);
  const size_t le = len & ~(size_t)1;
  __m256 r[4];
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

/* Groups of g < 32 dims: per-element scales in a buffer, as enc4_row_small. */
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
    __m256 r[4], sv[4];
    for (size_t j = 0;; j += 32) {
      if (j + 32 > le) {
        if (j == le) break;
        j = le - 32; /* overlapping last block */
      }
      for (int t = 0; t < 4; t++) sv[t] = _mm256_loadu_ps(sb + j + 8 * t);
      dq4x32v(q + j / 2, sv, r);
      put32f(o + c0 + j, r, 0);
    }
    if (le < cl) vec_intq_decode_i4_seg_scalar(q, le, cl, sb[le], o + c0);
  }
}

void vec_intq_decode_i4_avx2(const uint8_t *q, size_t n, size_t d, size_t g, size_t ldq,
                             const float *scales, size_t lds, float *out, size_t ldo,
                             unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    const float *sr = scales + i * lds;
    float *o = out + i * ldo;
    int stream = (flags & VEC_KF_STREAM) && d % 32 == 0 && g % 32 == 0 && ((uintptr_t)o & 31) == 0;
    streamed |= stream;
    if (g < 32) {
      dec4_row_small(qr, d, g, sr, o);
    } else if (g == 32) { /* whole groups inline; only the last, short one goes through dec4_seg */
      __m256 r[4];
      size_t k = 0;
      for (; 32 * k + 32 <= d; k++) {
        dq4x32(qr + 16 * k, _mm256_set1_ps(sr[k]), r);
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
