/* rabitq_avx2.c: AVX2 kernels of the rabitq codec: the scale search in two 8-lane registers (the
 * reference's 16 lanes exactly), the byte dot products with VPMADDUBSW (1-bit codes: the query
 * bytes their bits select), the unpacking of 3, 5, 6 and 7-bit codes with byte shuffles, 1-bit
 * codes by VMOVMSKPS, the rest rabitq_tmpl.h vectorised with -mavx2. */
#include <immintrin.h>

#define VEC_RQ_ISA         avx2
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#define VEC_RQ_HAVE_EVAL   1
#define VEC_RQ_HAVE_EVALN  1
#define VEC_RQ_HAVE_SUM    1
#define VEC_RQ_HAVE_DOT    1
#define VEC_RQ_HAVE_DOT1   1
#define VEC_RQ_HAVE_UNPACK 1
#define VEC_RQ_HAVE_SIGN   1
#include "rabitq_tmpl.h"

/* A byte of sign bits is one compare and one VMOVMSKPS (the plain C loop took 13 instructions an
 * element and was a third of 1-bit encoding). AVX-512 machines use this one too: eight elements a
 * compare is already far below the rotation's cost. */
void vec_rabitq_sign_avx2(const float *o, size_t d, uint8_t *row) {
  const __m256 z = _mm256_setzero_ps();
  for (size_t k = 0; k < (d + 7) / 8; k++)
    row[k] = (uint8_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(o + 8 * k), z, _CMP_GT_OQ));
}

/* The scale search's arithmetic, as the reference does it: f = clamp(floor(t v)), y = 2 f + 1,
 * a += y v, b += y y, with two FMAs where they round exactly as the reference's separate steps:
 * 2 f + 1 and y y are small integers (|y| <= 255), exact in float, so fma(2, f, 1) and
 * fma(y, y, b) round once where the reference rounds once (y v is not exact: kept a multiply and
 * an add). */
static inline __m256 grid8(__m256 v, __m256 vt, __m256 lo, __m256 hi, __m256 *f) {
  *f = _mm256_min_ps(_mm256_max_ps(_mm256_floor_ps(_mm256_mul_ps(vt, v)), lo), hi);
  return _mm256_fmadd_ps(_mm256_set1_ps(2.0f), *f, _mm256_set1_ps(1.0f));
}

static inline void put8(uint8_t *u, __m256 f, __m256 lo) {
  __m256i i = _mm256_cvtps_epi32(_mm256_sub_ps(f, lo));
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  _mm_storel_epi64((__m128i *)(void *)u, _mm_packus_epi16(w, w));
}

static inline void tree2(__m256 a0, __m256 a1, float *out) {
  float l[16];
  _mm256_storeu_ps(l, a0), _mm256_storeu_ps(l + 8, a1);
  *out = rq_tree_avx2(l);
}

void vec_rabitq_eval_avx2(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                          float *ip, float *nn) {
  const __m256 vt = _mm256_set1_ps(t), lo = _mm256_set1_ps(fmin), hi = _mm256_set1_ps(fmax);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, f0, f1;
  for (size_t j = 0; j < dp; j += 16) {
    __m256 v0 = _mm256_loadu_ps(o + j), v1 = _mm256_loadu_ps(o + j + 8);
    __m256 y0 = grid8(v0, vt, lo, hi, &f0), y1 = grid8(v1, vt, lo, hi, &f1);
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(y0, v0));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(y1, v1));
    b0 = _mm256_fmadd_ps(y0, y0, b0);
    b1 = _mm256_fmadd_ps(y1, y1, b1);
    if (u) put8(u + j, f0, lo), put8(u + j + 8, f1, lo);
  }
  tree2(a0, a1, ip);
  tree2(b0, b1, nn);
}

/* 8 floats of x from j (< n), the ones past n as 0 (a masked load: nothing past x is read). */
static inline __m256 load8(const float *x, size_t j, size_t n) {
  if (n - j >= 8) return _mm256_loadu_ps(x + j);
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)), idx);
  return _mm256_maskload_ps(x + j, m);
}

/* The reference's 16 lanes in two registers; the tail's missing lanes load as 0, which leaves a
 * lane's sum of squares, sum of magnitudes or maximum magnitude (all >= +0) as it was. */
float vec_rabitq_sum_avx2(const float *x, size_t n, int mode) {
  const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  for (size_t j = 0; j < n; j += 16) {
    __m256 v0 = load8(x, j, n), v1 = j + 8 < n ? load8(x, j + 8, n) : _mm256_setzero_ps();
    if (mode == 0) {
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(v0, v0));
      a1 = _mm256_add_ps(a1, _mm256_mul_ps(v1, v1));
    } else if (mode == 1) {
      a0 = _mm256_add_ps(a0, _mm256_and_ps(v0, abs));
      a1 = _mm256_add_ps(a1, _mm256_and_ps(v1, abs));
    } else { /* |v| first: a NaN in v leaves a, as in the reference */
      a0 = _mm256_max_ps(_mm256_and_ps(v0, abs), a0);
      a1 = _mm256_max_ps(_mm256_and_ps(v1, abs), a1);
    }
  }
  float l[16];
  _mm256_storeu_ps(l, a0), _mm256_storeu_ps(l + 8, a1);
  if (mode != 2) return rq_tree_avx2(l);
  float m = l[0];
  for (size_t i = 1; i < 16; i++) m = m < l[i] ? l[i] : m;
  return m;
}

/* Two scales a pass (their eight 8-lane sums and the two scales fill most of the 16 registers). */
void vec_rabitq_evaln_avx2(const float *o, size_t dp, const float *t, size_t nt, float fmin,
                           float fmax, float *ip, float *nn) {
  const __m256 lo = _mm256_set1_ps(fmin), hi = _mm256_set1_ps(fmax);
  size_t i = 0;
  for (; i + 2 <= nt; i += 2) {
    const __m256 ta = _mm256_set1_ps(t[i]), tb = _mm256_set1_ps(t[i + 1]);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
    __m256 f;
    for (size_t j = 0; j < dp; j += 16) {
      __m256 v0 = _mm256_loadu_ps(o + j), v1 = _mm256_loadu_ps(o + j + 8);
      __m256 y0 = grid8(v0, ta, lo, hi, &f), y1 = grid8(v1, ta, lo, hi, &f);
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(y0, v0));
      a1 = _mm256_add_ps(a1, _mm256_mul_ps(y1, v1));
      b0 = _mm256_fmadd_ps(y0, y0, b0);
      b1 = _mm256_fmadd_ps(y1, y1, b1);
      y0 = grid8(v0, tb, lo, hi, &f), y1 = grid8(v1, tb, lo, hi, &f);
      c0 = _mm256_add_ps(c0, _mm256_mul_ps(y0, v0));
      c1 = _mm256_add_ps(c1, _mm256_mul_ps(y1, v1));
      e0 = _mm256_fmadd_ps(y0, y0, e0);
      e1 = _mm256_fmadd_ps(y1, y1, e1);
    }
    tree2(a0, a1, ip + i), tree2(b0, b1, nn + i);
    tree2(c0, c1, ip + i + 1), tree2(e0, e1, nn + i + 1);
  }
  if (i < nt) vec_rabitq_eval_avx2(o, dp, t[i], fmin, fmax, NULL, ip + i, nn + i);
}

/* VPMADDUBSW multiplies unsigned by signed bytes and adds pairs into int16 with saturation: exact
 * while u <= 127 (2 * 127 * 127 < 2^15), so for every width but 8, whose bytes are widened to
 * int16 first. Fields of 2 and 4 bits (<= 15) leave room to add the fields' int16 sums before
 * widening: 4 * 2 * 3 * 127 and 2 * 2 * 15 * 127 < 2^15. Lane sums are int32, flushed to int64
 * every VEC_RQ_CHUNK bytes. */
static inline __m256i widen16(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

static inline int64_t hsum32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

#define LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))

/* Bytes [0, len) of one row (len = cs for b = 2, 4; d otherwise), 32 at a time, the rest scalar. */
static inline __attribute__((always_inline)) int64_t dot_row(const int8_t *q, const uint8_t *row,
                                                             size_t cs, size_t len, unsigned b) {
  const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3);
  int64_t total = 0;
  size_t k = 0;
  for (size_t k0 = 0; k0 + 32 <= len; k0 += VEC_RQ_CHUNK) {
    size_t k1 = len - k0 < VEC_RQ_CHUNK ? len : k0 + VEC_RQ_CHUNK;
    __m256i acc = _mm256_setzero_si256();
    for (k = k0; k + 32 <= k1; k += 32) {
      __m256i c = LOADU(row + k), p;
      if (b == 4) {
        p = _mm256_add_epi16(
            _mm256_maddubs_epi16(_mm256_and_si256(c, m4), LOADU(q + k)),
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 4), m4), LOADU(q + cs + k)));
        p = widen16(p);
      } else if (b == 2) {
        __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(c, m2), LOADU(q + k));
        __m256i p1 =
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 2), m2), LOADU(q + cs + k));
        __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 4), m2),
                                          LOADU(q + 2 * cs + k));
        __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(c, 6), m2),
                                          LOADU(q + 3 * cs + k));
        p = widen16(_mm256_add_epi16(_mm256_add_epi16(p0, p1), _mm256_add_epi16(p2, p3)));
      } else if (b < 8) {
        p = widen16(_mm256_maddubs_epi16(c, LOADU(q + k)));
      } else {
        __m256i qv = LOADU(q + k);
        __m256i lo = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_castsi256_si128(c)),
                                       _mm256_cvtepi8_epi16(_mm256_castsi256_si128(qv)));
        __m256i hi = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm256_extracti128_si256(c, 1)),
                                       _mm256_cvtepi8_epi16(_mm256_extracti128_si256(qv, 1)));
        p = _mm256_add_epi32(lo, hi);
      }
      acc = _mm256_add_epi32(acc, p);
    }
    total += hsum32(acc);
  }
  return total + (b == 2 || b == 4 ? rq_dot_fields_avx2(q, row, cs, b, k, len)
                                   : rq_dot_bytes_avx2(q, row, k, len));
}

void vec_rabitq_dot_avx2(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr, size_t d,
                         unsigned b, int64_t *out) {
  /* One instance per kind of row, so that the test on b leaves the inner loop. */
  size_t len = b == 2 || b == 4 ? cs : d;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    switch (b) {
    case 2: out[r] = dot_row(q, row, cs, len, 2); break;
    case 4: out[r] = dot_row(q, row, cs, len, 4); break;
    case 8: out[r] = dot_row(q, row, cs, len, 8); break;
    default: out[r] = dot_row(q, row, cs, len, 7); break;
    }
  }
}

/* Unpacking 32 b-bit fields (4 groups of 8, 4 b bytes) to bytes. Each 128-bit lane takes two
 * groups (2 b <= 14 bytes, loaded at src and src + 2 b), where element e sits at bit e b: bytes
 * i = e b / 8 and i + 1 hold it, s = e b % 8 bits up (s + b <= 14). A shuffle puts those two bytes
 * in a 16-bit lane, even elements in one register and odd ones in another; multiplying by
 * 2^(8 - s) (AVX2 has no per-lane 16-bit shift) brings the field to bit 8: shifted down 8 for the
 * even elements, kept in the high byte for the odd ones, which interleaves them in element order;
 * a mask drops the neighbours' bits. */
typedef struct {
  __m256i se, so, me, mo, mask;
} unpack_consts;

static unpack_consts unpack_setup(unsigned b) {
  uint8_t se[32], so[32];
  uint16_t me[16], mo[16];
  for (unsigned lane = 0; lane < 2; lane++)
    for (unsigned i = 0; i < 8; i++)
      for (unsigned odd = 0; odd < 2; odd++) {
        unsigned bit = (2 * i + odd) * b;
        uint8_t *sh = odd ? so : se;
        sh[16 * lane + 2 * i] = (uint8_t)(bit / 8);
        sh[16 * lane + 2 * i + 1] = (uint8_t)(bit / 8 + 1);
        (odd ? mo : me)[8 * lane + i] = (uint16_t)(1u << (8 - bit % 8));
      }
  unpack_consts k;
  k.se = LOADU(se), k.so = LOADU(so), k.me = LOADU(me), k.mo = LOADU(mo);
  k.mask = _mm256_set1_epi8((char)((1 << b) - 1));
  return k;
}

/* Reads bytes [0, 2 b + 16) of src, writes 32 bytes. */
static inline void unpack32(const unpack_consts *k, const uint8_t *src, unsigned b, uint8_t *dst) {
  __m256i v = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)src)),
      _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * b)), 1);
  __m256i ev = _mm256_mullo_epi16(_mm256_shuffle_epi8(v, k->se), k->me);
  __m256i ov = _mm256_mullo_epi16(_mm256_shuffle_epi8(v, k->so), k->mo);
  __m256i r = _mm256_or_si256(_mm256_srli_epi16(ev, 8),
                              _mm256_and_si256(ov, _mm256_set1_epi16((short)0xFF00)));
  _mm256_storeu_si256((__m256i *)(void *)dst, _mm256_and_si256(r, k->mask));
}

void vec_rabitq_unpack_avx2(const uint8_t *codes, size_t cs, size_t nr, size_t d, unsigned b,
                            uint8_t *out, size_t ldo) {
  unpack_consts k = unpack_setup(b);
  size_t nbytes = (d * b + 7) / 8;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    uint8_t *u = out + r * ldo;
    size_t e = 0;
    for (; e + 32 <= d && e / 8 * b + 2 * b + 16 <= nbytes; e += 32)
      unpack32(&k, row + e / 8 * b, b, u + e);
    /* The last blocks would read past the row (AVX2 has no byte-masked loads): word by word. */
    rq_unpack_groups_avx2(row, nbytes, e / 8, (d + 7) / 8, b, u);
  }
}

/* 1-bit codes: the query bytes that each code bit selects, summed. 32 bits at a time become 32
 * byte masks (each byte of the broadcast word goes to 8 lanes, which test one bit each), select
 * the query's bytes, and VPMADDUBSW with ones adds them in pairs; int16 sums of at most 2 * 127 a
 * step stay exact for 128 steps, then widen to int32. Fewer instructions per 64 elements than the
 * eight AND and POPCNT of the bit planes. */
void vec_rabitq_dot1_avx2(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs,
                          size_t nr, int64_t *out) {
  const int8_t *q = (const int8_t *)(planes + 8 * w);
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
                                       1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const __m256i ones = _mm256_set1_epi8(1);
  /* 32 elements a step; the query has 64 w >= 32 steps bytes. Whole code words run in a loop of
   * their own and the last, partial word (cs % 4 bytes) once after it: with the byte loop inside
   * the main one, GCC spilled the constants and the step took twice the instructions. */
  size_t steps = (cs + 3) / 4, full = cs / 4, rem = cs % 4;
#define DOT1_STEP(c, k)                                                                            \
  _mm256_maddubs_epi16(                                                                            \
      ones,                                                                                        \
      _mm256_and_si256(                                                                            \
          _mm256_cmpeq_epi8(                                                                       \
              _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)(c)), spread), bit),     \
              bit),                                                                                \
          LOADU(q + 32 * (k))))
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    int64_t total = 0;
    for (size_t k0 = 0; k0 < steps; k0 += 128) {
      size_t k1 = steps - k0 < 128 ? steps : k0 + 128, kf = k1 < full ? k1 : full, k = k0;
      __m256i acc = _mm256_setzero_si256();
      for (; k < kf; k++) {
        uint32_t c;
        memcpy(&c, row + 4 * k, 4); /* little-endian: element 32 k + i is bit i */
        acc = _mm256_add_epi16(acc, DOT1_STEP(c, k));
      }
      if (k < k1) { /* k == full: the rem < 4 bytes left */
        uint32_t c = row[4 * k];
        if (rem > 1) c |= (uint32_t)row[4 * k + 1] << 8;
        if (rem > 2) c |= (uint32_t)row[4 * k + 2] << 16;
        acc = _mm256_add_epi16(acc, DOT1_STEP(c, k));
      }
      total += hsum32(widen16(acc));
    }
    out[r] = total;
  }
#undef DOT1_STEP
}
