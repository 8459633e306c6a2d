/* rabitq_avx512.c: AVX-512 kernels of the rabitq codec: the scale search in one 16-lane register
 * (the reference's lanes exactly), the unpacking of 3, 5, 6 and 7-bit codes with byte shuffles,
 * byte dot products with VNNI where the CPU has it, the rest rabitq_tmpl.h vectorised with
 * -mavx512bw (and POPCNT, which every AVX-512 CPU has, for the 1-bit codes). */
#include <immintrin.h>
#include <string.h>

#define VEC_RQ_ISA         avx512
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#define VEC_RQ_HAVE_EVAL   1
#define VEC_RQ_HAVE_EVALN  1
#define VEC_RQ_HAVE_SUM    1
#define VEC_RQ_HAVE_UNPACK 1
/* Scales per pass of vec_rabitq_evaln: 6 x (a, b) sums and 6 broadcast scales fit the 32 registers.
 */
#define VEC_RQ_EVALN_MAX 6
#include "rabitq_tmpl.h"

/* The scale search's arithmetic, as the reference does it: f = clamp(floor(t v)), y = 2 f + 1,
 * a += y v, b += y y, with two FMAs where they round exactly as the reference's separate steps:
 * 2 f + 1 and y y are small integers (|y| <= 255), exact in float, so fma(2, f, 1) and
 * fma(y, y, b) round once where the reference rounds once (y v is not exact: kept a multiply and
 * an add). */
static inline __attribute__((always_inline)) __m512 grid16(__m512 v, __m512 vt, __m512 lo,
                                                           __m512 hi, __m512 *f) {
  *f = _mm512_roundscale_ps(_mm512_mul_ps(vt, v), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  *f = _mm512_min_ps(_mm512_max_ps(*f, lo), hi);
  return _mm512_fmadd_ps(_mm512_set1_ps(2.0f), *f, _mm512_set1_ps(1.0f));
}

void vec_rabitq_eval_avx512(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                            float *ip, float *nn) {
  const __m512 vt = _mm512_set1_ps(t), lo = _mm512_set1_ps(fmin), hi = _mm512_set1_ps(fmax);
  __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps(), f;
  for (size_t j = 0; j < dp; j += 16) {
    __m512 v = _mm512_loadu_ps(o + j), y = grid16(v, vt, lo, hi, &f);
    a = _mm512_add_ps(a, _mm512_mul_ps(y, v));
    b = _mm512_fmadd_ps(y, y, b);
    if (u)
      _mm_storeu_si128((__m128i *)(void *)(u + j),
                       _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_sub_ps(f, lo))));
  }
  float la[16], lb[16];
  _mm512_storeu_ps(la, a);
  _mm512_storeu_ps(lb, b);
  *ip = rq_tree_avx512(la);
  *nn = rq_tree_avx512(lb);
}

/* The reference's 16 lanes in one register; the tail's missing lanes load as 0, which leaves a
 * lane's sum of squares, sum of magnitudes or maximum magnitude (all >= +0) as it was. */
float vec_rabitq_sum_avx512(const float *x, size_t n, int mode) {
  __m512 a = _mm512_setzero_ps();
  for (size_t j = 0; j < n; j += 16) {
    __m512 v = n - j >= 16 ? _mm512_loadu_ps(x + j)
                           : _mm512_maskz_loadu_ps((__mmask16)((1u << (n - j)) - 1), x + j);
    if (mode == 0)
      a = _mm512_add_ps(a, _mm512_mul_ps(v, v));
    else if (mode == 1)
      a = _mm512_add_ps(a, _mm512_abs_ps(v));
    else
      a = _mm512_max_ps(_mm512_abs_ps(v), a); /* a NaN in v leaves a, as in the reference */
  }
  if (mode == 2) return _mm512_reduce_max_ps(a);
  float l[16];
  _mm512_storeu_ps(l, a);
  return rq_tree_avx512(l);
}

/* K scales in one pass over o: each v is loaded once, and the 2 K sums are independent chains. */
static inline __attribute__((always_inline)) void evalk(const float *o, size_t dp, const float *t,
                                                        int K, float fmin, float fmax, float *ip,
                                                        float *nn) {
  const __m512 lo = _mm512_set1_ps(fmin), hi = _mm512_set1_ps(fmax);
  __m512 vt[VEC_RQ_EVALN_MAX], a[VEC_RQ_EVALN_MAX], b[VEC_RQ_EVALN_MAX], f;
  for (int k = 0; k < K; k++)
    vt[k] = _mm512_set1_ps(t[k]), a[k] = _mm512_setzero_ps(), b[k] = _mm512_setzero_ps();
  for (size_t j = 0; j < dp; j += 16) {
    __m512 v = _mm512_loadu_ps(o + j);
    for (int k = 0; k < K; k++) {
      __m512 y = grid16(v, vt[k], lo, hi, &f);
      a[k] = _mm512_add_ps(a[k], _mm512_mul_ps(y, v));
      b[k] = _mm512_fmadd_ps(y, y, b[k]);
    }
  }
  for (int k = 0; k < K; k++) {
    float la[16], lb[16];
    _mm512_storeu_ps(la, a[k]);
    _mm512_storeu_ps(lb, b[k]);
    ip[k] = rq_tree_avx512(la);
    nn[k] = rq_tree_avx512(lb);
  }
}

void vec_rabitq_evaln_avx512(const float *o, size_t dp, const float *t, size_t nt, float fmin,
                             float fmax, float *ip, float *nn) {
  for (size_t i = 0; i < nt; i += VEC_RQ_EVALN_MAX) {
    switch (nt - i < VEC_RQ_EVALN_MAX ? nt - i : VEC_RQ_EVALN_MAX) {
    case 1: evalk(o, dp, t + i, 1, fmin, fmax, ip + i, nn + i); break;
    case 2: evalk(o, dp, t + i, 2, fmin, fmax, ip + i, nn + i); break;
    case 3: evalk(o, dp, t + i, 3, fmin, fmax, ip + i, nn + i); break;
    case 4: evalk(o, dp, t + i, 4, fmin, fmax, ip + i, nn + i); break;
    case 5: evalk(o, dp, t + i, 5, fmin, fmax, ip + i, nn + i); break;
    default: evalk(o, dp, t + i, 6, fmin, fmax, ip + i, nn + i); break;
    }
  }
}

/* One 64-bit word of a 1-bit code row against the query's eight planes of that word (one zmm):
 * AND with the broadcast word, VPOPCNTQ, and the eight counts accumulate in eight lanes. */
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) void
vec_rabitq_dot1_avx512vpop(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs,
                           size_t nr, int64_t *out) {
  size_t full = cs / 8;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    __m512i acc = _mm512_setzero_si512();
    uint64_t ones = 0;
    for (size_t i = 0; i < w; i++) {
      uint64_t c = 0;
      if (i < full)
        memcpy(&c, row + 8 * i, 8);
      else
        memcpy(&c, row + 8 * i, cs - 8 * i);
      __m512i p = _mm512_loadu_si512((const void *)(planes + 8 * i));
      acc = _mm512_add_epi64(
          acc, _mm512_popcnt_epi64(_mm512_and_si512(p, _mm512_set1_epi64((long long)c))));
      ones += (uint64_t)_mm_popcnt_u64(c);
    }
    /* Lane k counts bit k of the query: weight 2^k (a shift, as in the scalar reference). */
    int64_t s =
        _mm512_reduce_add_epi64(_mm512_sllv_epi64(acc, _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7)));
    out[r] = s - 128 * (int64_t)ones;
  }
}

/* Unpacking 64 b-bit fields (8 groups of 8, 8 b bytes) to bytes: rabitq_avx2.c's scheme in four
 * 128-bit lanes, two groups each, loaded at src + 2 b l. Element e of a lane sits at bit e b: a
 * shuffle puts bytes e b / 8 and e b / 8 + 1 in a 16-bit lane (even elements in one register, odd
 * ones in another), a multiply by 2^(8 - e b % 8) brings the field to bit 8, then the two
 * registers interleave and a mask keeps b bits. (VPMULLW, not VPSRLVW, so that the constants are
 * the AVX2 kernel's.) */
typedef struct {
  __m512i se, so, me, mo, mask;
} unpack_consts;

static unpack_consts unpack_setup(unsigned b) {
  uint8_t se[16], so[16];
  uint16_t me[8], mo[8];
  for (unsigned i = 0; i < 8; i++)
    for (unsigned odd = 0; odd < 2; odd++) {
      unsigned bit = (2 * i + odd) * b;
      uint8_t *sh = odd ? so : se;
      sh[2 * i] = (uint8_t)(bit / 8);
      sh[2 * i + 1] = (uint8_t)(bit / 8 + 1);
      (odd ? mo : me)[i] = (uint16_t)(1u << (8 - bit % 8));
    }
#define BCAST(a) _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(a)))
  unpack_consts k = {BCAST(se), BCAST(so), BCAST(me), BCAST(mo),
                     _mm512_set1_epi8((char)((1 << b) - 1))};
#undef BCAST
  return k;
}

/* Four 128-bit lanes of two groups each to 64 bytes. */
static inline __m512i unpack_lanes(const unpack_consts *k, const __m128i *lane) {
  __m512i v = _mm512_castsi128_si512(lane[0]);
  v = _mm512_inserti32x4(v, lane[1], 1);
  v = _mm512_inserti32x4(v, lane[2], 2);
  v = _mm512_inserti32x4(v, lane[3], 3);
  __m512i ev = _mm512_mullo_epi16(_mm512_shuffle_epi8(v, k->se), k->me);
  __m512i ov = _mm512_mullo_epi16(_mm512_shuffle_epi8(v, k->so), k->mo);
  __m512i r = _mm512_or_si512(_mm512_srli_epi16(ev, 8),
                              _mm512_and_si512(ov, _mm512_set1_epi16((short)0xFF00)));
  return _mm512_and_si512(r, k->mask);
}

/* Reads bytes [0, 6 b + 16) of src, writes 64 bytes. */
static inline void unpack64(const unpack_consts *k, const uint8_t *src, unsigned b, uint8_t *dst) {
  __m128i lane[4];
  for (unsigned l = 0; l < 4; l++)
    lane[l] = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * b * l));
  _mm512_storeu_si512((void *)dst, unpack_lanes(k, lane));
}

void vec_rabitq_unpack_avx512(const uint8_t *codes, size_t cs, size_t nr, size_t d, unsigned b,
                              uint8_t *out, size_t ldo) {
  unpack_consts k = unpack_setup(b);
  size_t nbytes = (d * b + 7) / 8;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    uint8_t *u = out + r * ldo;
    size_t e = 0;
    for (; e + 64 <= d && e / 8 * b + 6 * b + 16 <= nbytes; e += 64)
      unpack64(&k, row + e / 8 * b, b, u + e);
    /* The last blocks would read past the row: masked loads and stores (which do not fault on
     * the bytes they leave out) instead of a bounce through a stack copy, whose byte stores the
     * vector loads would wait for. */
    for (; e < d; e += 64) {
      __m128i lane[4];
      for (unsigned l = 0; l < 4; l++) {
        size_t at = e / 8 * b + 2 * b * l, n = at < nbytes ? nbytes - at : 0;
        lane[l] = _mm_maskz_loadu_epi8(n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1),
                                       row + (n ? at : 0));
      }
      size_t m = VEC_RQ_UNPACK_PAD(d - e) < 64 ? VEC_RQ_UNPACK_PAD(d - e) : 64;
      _mm512_mask_storeu_epi8(u + e, m == 64 ? ~(__mmask64)0 : ((__mmask64)1 << m) - 1,
                              unpack_lanes(&k, lane));
    }
  }
}

/* Dot products with VPDPBUSD (unsigned code bytes times signed query bytes, four products summed
 * into each int32 lane, no saturation): one instruction per 64 bytes of one-byte codes, one per
 * field of 2 and 4-bit codes after a mask and shift. Lane sums gain at most 4 * 255 * 127 a step
 * and flush to int64 every VEC_RQ_CHUNK bytes; a masked step takes each row's last bytes, so
 * nothing past a row (or past the query) is read. */
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI static inline
    __attribute__((always_inline)) __m512i dot_step(__m512i acc, __m512i c, const int8_t *q,
                                                    size_t cs, size_t k, __mmask64 m, unsigned b) {
#define QL(off) _mm512_maskz_loadu_epi8(m, q + (off) + k)
  if (b == 4) {
    const __m512i m4 = _mm512_set1_epi8(15);
    acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(c, m4), QL(0));
    return _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(c, 4), m4), QL(cs));
  }
  if (b == 2) {
    const __m512i m2 = _mm512_set1_epi8(3);
    for (unsigned s = 0; s < 4; s++)
      acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(c, 2 * s), m2), QL(s * cs));
    return acc;
  }
  return _mm512_dpbusd_epi32(acc, c, QL(0));
#undef QL
}

/* Sums of the int32 lanes of four registers, one in each lane of the result. */
VNNI static inline __m128i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  __m512i x = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  __m512i y = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  __m512i z = _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
  __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Rows go four at a time: each query vector is loaded once for the four, four independent sums
 * hide VPDPBUSD's latency, and the four lane sums reduce together. */
VNNI static inline __attribute__((always_inline)) void
dot_rows_vnni(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr, size_t len, unsigned b,
              int64_t *out) {
  size_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const uint8_t *row = codes + r * cs;
    __m256i total = _mm256_setzero_si256();
    for (size_t k0 = 0; k0 < len; k0 += VEC_RQ_CHUNK) {
      size_t k1 = len - k0 < VEC_RQ_CHUNK ? len : k0 + VEC_RQ_CHUNK, k = k0;
      __m512i a[4];
      for (int i = 0; i < 4; i++) a[i] = _mm512_setzero_si512();
      for (; k + 64 <= k1; k += 64)
        for (int i = 0; i < 4; i++)
          a[i] = dot_step(a[i], _mm512_loadu_si512((const void *)(row + i * cs + k)), q, cs, k,
                          ~(__mmask64)0, b);
      if (k < k1) {
        __mmask64 m = ((__mmask64)1 << (k1 - k)) - 1;
        for (int i = 0; i < 4; i++)
          a[i] = dot_step(a[i], _mm512_maskz_loadu_epi8(m, row + i * cs + k), q, cs, k, m, b);
      }
      total = _mm256_add_epi64(total, _mm256_cvtepi32_epi64(reduce4(a[0], a[1], a[2], a[3])));
    }
    _mm256_storeu_si256((__m256i *)(void *)(out + r), total);
  }
  for (; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    int64_t total = 0;
    for (size_t k0 = 0; k0 < len; k0 += VEC_RQ_CHUNK) {
      size_t k1 = len - k0 < VEC_RQ_CHUNK ? len : k0 + VEC_RQ_CHUNK, k = k0;
      __m512i acc = _mm512_setzero_si512();
      for (; k + 64 <= k1; k += 64)
        acc =
            dot_step(acc, _mm512_loadu_si512((const void *)(row + k)), q, cs, k, ~(__mmask64)0, b);
      if (k < k1) {
        __mmask64 m = ((__mmask64)1 << (k1 - k)) - 1;
        acc = dot_step(acc, _mm512_maskz_loadu_epi8(m, row + k), q, cs, k, m, b);
      }
      total += _mm512_reduce_add_epi32(acc);
    }
    out[r] = total;
  }
}

VNNI void vec_rabitq_dot_avx512vnni(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr,
                                    size_t d, unsigned b, int64_t *out) {
  switch (b) {
  case 2: dot_rows_vnni(q, codes, cs, nr, cs, 2, out); break;
  case 4: dot_rows_vnni(q, codes, cs, nr, cs, 4, out); break;
  default: dot_rows_vnni(q, codes, cs, nr, d, 8, out); break;
  }
}

/* 1-bit codes: each code word, as a mask register, selects the query bytes of its set bits (a
 * masked move), and VPDPBUSD with ones sums them into the int32 lanes: three instructions per 64
 * elements and row, against eight popcounts' worth with bit planes. Lanes gain at most 4 * 127 a
 * word: flushed to int64 every 2^20 words. Four rows at a time share the query's loads. */
#define DOT1_CHUNK ((size_t)1 << 20)

static inline uint64_t code_word(const uint8_t *row, size_t i, size_t cs) {
  uint64_t c = 0;
  if (8 * i + 8 <= cs)
    memcpy(&c, row + 8 * i, 8); /* little-endian: element 64 i + k is bit k */
  else
    memcpy(&c, row + 8 * i, cs - 8 * i);
  return c;
}

VNNI void vec_rabitq_dot1_avx512vnni(const uint64_t *planes, size_t w, const uint8_t *codes,
                                     size_t cs, size_t nr, int64_t *out) {
  const int8_t *q = (const int8_t *)(planes + 8 * w);
  const __m512i ones = _mm512_set1_epi8(1);
  size_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const uint8_t *row = codes + r * cs;
    __m256i total = _mm256_setzero_si256();
    for (size_t i0 = 0; i0 < w; i0 += DOT1_CHUNK) {
      size_t i1 = w - i0 < DOT1_CHUNK ? w : i0 + DOT1_CHUNK;
      __m512i a[4];
      for (int k = 0; k < 4; k++) a[k] = _mm512_setzero_si512();
      for (size_t i = i0; i < i1; i++) {
        __m512i qv = _mm512_loadu_si512((const void *)(q + 64 * i));
        for (int k = 0; k < 4; k++)
          a[k] = _mm512_dpbusd_epi32(
              a[k], ones,
              _mm512_maskz_mov_epi8(_cvtu64_mask64(code_word(row + k * cs, i, cs)), qv));
      }
      total = _mm256_add_epi64(total, _mm256_cvtepi32_epi64(reduce4(a[0], a[1], a[2], a[3])));
    }
    _mm256_storeu_si256((__m256i *)(void *)(out + r), total);
  }
  for (; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    int64_t total = 0;
    for (size_t i0 = 0; i0 < w; i0 += DOT1_CHUNK) {
      size_t i1 = w - i0 < DOT1_CHUNK ? w : i0 + DOT1_CHUNK;
      __m512i acc = _mm512_setzero_si512();
      for (size_t i = i0; i < i1; i++)
        acc = _mm512_dpbusd_epi32(
            acc, ones,
            _mm512_maskz_mov_epi8(_cvtu64_mask64(code_word(row, i, cs)),
                                  _mm512_loadu_si512((const void *)(q + 64 * i))));
      total += _mm512_reduce_add_epi32(acc);
    }
    out[r] = total;
  }
}
