/* score_avx2.c: AVX2 scoring kernels (int8 by sign/maddubs, binary by nibble-table popcount, f16
 * through F16C, bf16 and int16 widened, int4 on a transposed tile or row by row). Blocks of 4 rows
 * share each loaded query vector; queries go 2 at a time so each loaded row chunk serves both. Row
 * tails use an overlapping last vector whose already-counted lanes are zeroed in the query (int8)
 * or masked (binary); rows shorter than one vector are copied to a zeroed stack buffer. */
#include <immintrin.h>

#include "half_kernels.h"
#include "score_kernels.h"

#define INLINE static inline __attribute__((always_inline))

INLINE int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

INLINE int64_t hsum_epi64(__m256i v) {
  __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
  return _mm_cvtsi128_si64(s);
}

/* The four row sums of one query at once (a transposing add tree). */
INLINE __m128i reduce4_epi32(const __m256i *v) {
  __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/* vec_score_i8_out for 4 rows: the same IEEE operations in the same order, so the same bits. */
INLINE void i8_out4(float sq, const float *sc, const int32_t *o, float *dst) {
  __m128 s = _mm_mul_ps(_mm_set1_ps(sq), _mm_loadu_ps(sc));
  _mm_storeu_ps(dst, _mm_mul_ps(s, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)o))));
}

/* The last (partial) 32 bytes of a row: an overlapping load where the row is long enough. */
INLINE __m256i tail32(const uint8_t *row, size_t len) {
  if (len >= 32) return _mm256_loadu_si256((const __m256i *)(row + len - 32));
  uint8_t buf[32] = {0};
  memcpy(buf, row, len);
  return _mm256_loadu_si256((const __m256i *)buf);
}

/* ---- int8: |q| * (sign(q) x) never saturates maddubs since |q|, |x| <= 127. ---- */
INLINE __m256i i8_step(__m256i acc, __m256i aq, __m256i q, __m256i x) {
  __m256i p = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x, q));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

INLINE void i8_block(int R, int Q, const uint8_t *const *qh, const __m256i *qt, const int8_t *x,
                     size_t d, size_t d32, int tail, int32_t out[2][4]) {
  __m256i acc[2][4];
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) acc[a][r] = _mm256_setzero_si256();
  for (size_t j = 0; j < d32; j += 32) {
    __m256i xv[4];
    for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_si256((const __m256i *)(x + r * d + j));
    for (int a = 0; a < Q; a++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(qh[a] + VEC_SCORE_HDR + j));
      __m256i aq = _mm256_abs_epi8(q);
      for (int r = 0; r < R; r++) acc[a][r] = i8_step(acc[a][r], aq, q, xv[r]);
    }
  }
  if (tail) {
    __m256i xv[4];
    for (int r = 0; r < R; r++) xv[r] = tail32((const uint8_t *)(x + r * d), d);
    for (int a = 0; a < Q; a++) {
      __m256i aq = _mm256_abs_epi8(qt[a]);
      for (int r = 0; r < R; r++) acc[a][r] = i8_step(acc[a][r], aq, qt[a], xv[r]);
    }
  }
  for (int a = 0; a < Q; a++) {
    if (R == 4)
      _mm_storeu_si128((__m128i *)out[a], reduce4_epi32(acc[a]));
    else
      out[a][0] = hsum_epi32(acc[a][0]);
  }
}

static void score_i8_avx2(const uint8_t *qs, size_t qstride, size_t nq, const int8_t *codes,
                          const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  size_t d32 = d & ~(size_t)31;
  int tail = d32 < d;
  /* Lanes of the overlapping tail vector that the full vectors already counted. */
  uint8_t keep[32];
  for (int i = 0; i < 32; i++) keep[i] = d < 32 || (d - 32 + (size_t)i) >= d32 ? 0xff : 0;
  const __m256i km = _mm256_loadu_si256((const __m256i *)keep);
  for (size_t j0 = 0; j0 < nq; j0 += 2) {
    int Q = nq - j0 >= 2 ? 2 : 1;
    const uint8_t *qh[2];
    __m256i qt[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    float sq[2];
    for (int a = 0; a < Q; a++) {
      qh[a] = qs + (j0 + (size_t)a) * qstride;
      sq[a] = vec_score_hdr_f32(qh[a]);
      const uint8_t *qc = qh[a] + VEC_SCORE_HDR;
      if (tail)
        qt[a] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(qc + (d >= 32 ? d - 32 : 0))),
                                 km);
    }
    size_t r = 0;
    int32_t out[2][4];
    for (; r + 4 <= nr; r += 4) {
      if (Q == 2)
        i8_block(4, 2, qh, qt, codes + r * d, d, d32, tail, out);
      else
        i8_block(4, 1, qh, qt, codes + r * d, d, d32, tail, out);
      for (int a = 0; a < Q; a++)
        i8_out4(sq[a], scales + r, out[a], ip + (j0 + (size_t)a) * ldo + r);
    }
    for (; r < nr; r++) {
      if (Q == 2)
        i8_block(1, 2, qh, qt, codes + r * d, d, d32, tail, out);
      else
        i8_block(1, 1, qh, qt, codes + r * d, d, d32, tail, out);
      for (int a = 0; a < Q; a++)
        ip[(j0 + (size_t)a) * ldo + r] = vec_score_i8_out(sq[a], scales[r], out[a][0]);
    }
  }
}

/* ---- int4: nibbles split into the even and odd elements, each against its half of the query
 * (query_prepare stores them apart), then the int8 sign/maddubs step. Rows with one scale only;
 * grouped rows go to the scalar kernel. ---- */
INLINE void nibbles(__m256i c, __m256i *lo, __m256i *hi) {
  const __m256i m = _mm256_set1_epi8(0x0f), e = _mm256_set1_epi8(8);
  *lo = _mm256_sub_epi8(_mm256_xor_si256(_mm256_and_si256(c, m), e), e);
  *hi = _mm256_sub_epi8(_mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), m), e), e);
}

INLINE void i4_block(int R, int Q, const int8_t *const *qe, const int8_t *const *qo,
                     const __m256i *te, const __m256i *to, const uint8_t *x, size_t nb, size_t b32,
                     int tail, int32_t out[2][4]) {
  __m256i acc[2][4];
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) acc[a][r] = _mm256_setzero_si256();
  for (size_t j = 0; j <= b32; j += 32) {
    if (j == b32 && !tail) break;
    __m256i lo[4], hi[4];
    for (int r = 0; r < R; r++)
      nibbles(j < b32 ? _mm256_loadu_si256((const __m256i *)(x + r * nb + j))
                      : tail32(x + r * nb, nb),
              &lo[r], &hi[r]);
    for (int a = 0; a < Q; a++) {
      __m256i e = j < b32 ? _mm256_loadu_si256((const __m256i *)(qe[a] + j)) : te[a];
      __m256i o = j < b32 ? _mm256_loadu_si256((const __m256i *)(qo[a] + j)) : to[a];
      __m256i ae = _mm256_abs_epi8(e), ao = _mm256_abs_epi8(o);
      for (int r = 0; r < R; r++) {
        acc[a][r] = i8_step(acc[a][r], ae, e, lo[r]);
        acc[a][r] = i8_step(acc[a][r], ao, o, hi[r]);
      }
    }
  }
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) out[a][r] = hsum_epi32(acc[a][r]);
}

void vec_score_i4_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            const float *scales, size_t nr, size_t d, size_t g, float *ip,
                            size_t ldo) {
  if (g < d) {
    vec_score_i4_scalar(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
    return;
  }
  size_t nb = (d + 1) / 2, half = vec_score_pad64(nb), b32 = nb & ~(size_t)31;
  int tail = b32 < nb;
  uint8_t keep[32];
  for (int i = 0; i < 32; i++) keep[i] = nb < 32 || (nb - 32 + (size_t)i) >= b32 ? 0xff : 0;
  const __m256i km = _mm256_loadu_si256((const __m256i *)keep);
  for (size_t j0 = 0; j0 < nq; j0 += 2) {
    int Q = nq - j0 >= 2 ? 2 : 1;
    const int8_t *qe[2], *qo[2];
    __m256i te[2], to[2];
    float sq[2];
    for (int a = 0; a < Q; a++) {
      const uint8_t *h = qs + (j0 + (size_t)a) * qstride;
      sq[a] = vec_score_hdr_f32(h);
      qe[a] = (const int8_t *)(h + VEC_SCORE_HDR);
      qo[a] = qe[a] + half;
      size_t base = nb >= 32 ? nb - 32 : 0;
      te[a] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(qe[a] + base)), km);
      to[a] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(qo[a] + base)), km);
    }
    int32_t out[2][4];
    for (size_t r = 0; r < nr; r += 2) {
      size_t R = nr - r >= 2 ? 2 : 1;
      const uint8_t *x = codes + r * nb;
      if (R == 2 && Q == 2)
        i4_block(2, 2, qe, qo, te, to, x, nb, b32, tail, out);
      else if (R == 2)
        i4_block(2, 1, qe, qo, te, to, x, nb, b32, tail, out);
      else if (Q == 2)
        i4_block(1, 2, qe, qo, te, to, x, nb, b32, tail, out);
      else
        i4_block(1, 1, qe, qo, te, to, x, nb, b32, tail, out);
      for (int a = 0; a < Q; a++)
        for (size_t k = 0; k < R; k++)
          ip[(j0 + (size_t)a) * ldo + r + k] = vec_score_i4_out1(sq[a], scales[r + k], out[a][k]);
    }
  }
}

/* ---- int4 on a transposed tile of 8 rows (score_i4g_tmpl.h): groups, and batches. ---- */
#define I4G_W        8
#define I4G_VNNI     0
#define I4G_FN(name) name##_avx2
#define I4G_ATTR
#define I4G_VI            __m256i
#define I4G_VF            __m256
#define I4G_LOAD(p)       _mm256_load_si256((const __m256i *)(const void *)(p))
#define I4G_SET1(v)       _mm256_set1_epi32(v)
#define I4G_ZERO()        _mm256_setzero_si256()
#define I4G_MADDUBS(u, s) _mm256_maddubs_epi16(u, s)
#define I4G_ADD16(a, b)   _mm256_add_epi16(a, b)
#define I4G_ADD32(a, b)   _mm256_add_epi32(a, b)
#define I4G_SUB32(a, b)   _mm256_sub_epi32(a, b)
#define I4G_MADD1(a)      _mm256_madd_epi16(a, _mm256_set1_epi16(1))
#define I4G_CVT(a)        _mm256_cvtepi32_ps(a)
#define I4G_ZEROF()       _mm256_setzero_ps()
#define I4G_LOADF(p)      _mm256_load_ps(p)
#define I4G_MULF(a, b)    _mm256_mul_ps(a, b)
#define I4G_ADDF(a, b)    _mm256_add_ps(a, b)
#define I4G_SET1F(v)      _mm256_set1_ps(v)
#define I4G_STOREF(p, v)  _mm256_storeu_ps(p, v)
#include "score_i4g_tmpl.h"

/* int4 in groups of 32 dims (the `balanced` profile), fewer queries than a register block: rows
 * read front to back with no transpose, which one query cannot amortise (and the transpose reads
 * eight rows at once, a pattern the prefetcher follows badly). 32 code bytes (two groups) a step
 * through the biased-nibble maddubs of score_i4g_tmpl.h; four steps' lanes summed by one hadd
 * tree into eight group dots; the float epilogue is the scalar one (products in a vector, the
 * sum in group order), so the bits are vec_score_i4_scalar's. Needs d % 64 == 0 (whole steps). */
void vec_score_i4g32_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                               const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  size_t nb = d / 2, ng = d / 32, half = vec_score_pad64(nb), corr_off = vec_score_i4_corr_off(d);
  const __m256i m = _mm256_set1_epi8(0x0f), e = _mm256_set1_epi8(8), one = _mm256_set1_epi16(1);
  const __m256i natural = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    const int8_t *qe = (const int8_t *)(h + VEC_SCORE_HDR), *qo = qe + half;
    const int32_t *corr = (const int32_t *)(const void *)(h + corr_off);
    float sq = vec_score_hdr_f32(h);
    for (size_t r = 0; r < nr; r++) {
      const uint8_t *c = codes + r * nb;
      const float *s = scales + r * ng;
      float acc = 0.0f;
      for (size_t gb = 0; gb < ng; gb += 8) {
        size_t n8 = ng - gb < 8 ? ng - gb : 8; /* even: d % 64 == 0 */
        __m256i v[4];
        for (size_t i = 0; i < 4; i++) {
          if (2 * i >= n8) {
            v[i] = _mm256_setzero_si256();
            continue;
          }
          size_t off = 16 * gb + 32 * i;
          __m256i x = _mm256_loadu_si256((const __m256i *)(c + off));
          __m256i lo = _mm256_xor_si256(_mm256_and_si256(x, m), e);
          __m256i hi = _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), m), e);
          __m256i p = _mm256_add_epi16(
              _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(qe + off))),
              _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(qo + off))));
          v[i] = _mm256_madd_epi16(p, one);
        }
        __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        t = _mm256_permutevar8x32_epi32(t, natural); /* lanes: groups gb .. gb + 7 */
        float f[8];
        if (n8 == 8) {
          __m256i dot = _mm256_sub_epi32(t, _mm256_loadu_si256((const __m256i *)(corr + gb)));
          _mm256_storeu_ps(f, _mm256_mul_ps(_mm256_loadu_ps(s + gb), _mm256_cvtepi32_ps(dot)));
          acc = gb == 0 ? f[0] : acc + f[0];
          for (size_t i = 1; i < 8; i++) acc = acc + f[i];
        } else {
          /* Masked loads: the row's last scales and the query's last biases may end at a page. */
          __m256i lm = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n8),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
          __m256i dot = _mm256_sub_epi32(t, _mm256_maskload_epi32(corr + gb, lm));
          _mm256_storeu_ps(f,
                           _mm256_mul_ps(_mm256_maskload_ps(s + gb, lm), _mm256_cvtepi32_ps(dot)));
          for (size_t i = 0; i < n8; i++) acc = gb + i == 0 ? f[0] : acc + f[i];
        }
      }
      ip[j * ldo + r] = sq * acc;
    }
  }
}

/* Fewer queries than a register block skip the transpose, which they cannot amortise: one scale a
 * row takes the row kernel above (100k x 384, one query: 620 against 520 q/s), groups of 32 the
 * row-order kernel; everything else the transposed tile. */
static void score_i4_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                          const float *scales, size_t nr, size_t d, size_t g, float *ip,
                          size_t ldo) {
  if (g >= d && nq < 4)
    vec_score_i4_rows_avx2(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
  else if (g == 32 && d % 64 == 0 && nq < 4 && d <= VEC_SCORE_I8_MAX_D)
    vec_score_i4g32_rows_avx2(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
  else
    score_i4g_avx2(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
}

/* ---- calibrated: u8 levels x int8 weights, both widened to int16 (maddubs could saturate:
 * 2 * 255 * 127 > 32767), madd into int32. ---- */
INLINE __m256i u8_step(__m256i acc, __m256i w, __m256i x) {
  __m256i wl = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(w));
  __m256i wh = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(w, 1));
  __m256i xl = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(x));
  __m256i xh = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(x, 1));
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wl, xl));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(wh, xh));
}

INLINE void u8_block(int R, const int8_t *w, __m256i wt, const uint8_t *x, size_t d, size_t d32,
                     int tail, __m256i fl, int seq, int32_t *out) {
  __m256i acc[4];
  for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
  if (seq) {
    /* One query a call: each row to its end before the next, one stream for the hardware
     * prefetcher (200k x 384, one query: 167 -> 245 q/s). Integer sums: no bit changes. */
    for (int r = 0; r < R; r++)
      for (size_t j = 0; j < d32; j += 32)
        acc[r] =
            u8_step(acc[r], _mm256_loadu_si256((const __m256i *)(w + j)),
                    _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + r * d + j)), fl));
  } else {
    /* Batches: the widened weights serve four rows. */
    for (size_t j = 0; j < d32; j += 32) {
      __m256i wv = _mm256_loadu_si256((const __m256i *)(w + j));
      for (int r = 0; r < R; r++)
        acc[r] = u8_step(
            acc[r], wv, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + r * d + j)), fl));
    }
  }
  if (tail)
    for (int r = 0; r < R; r++)
      acc[r] = u8_step(acc[r], wt, _mm256_xor_si256(tail32(x + r * d, d), fl));
  if (R == 4)
    _mm_storeu_si128((__m128i *)out, reduce4_epi32(acc));
  else
    out[0] = hsum_epi32(acc[0]);
}

/* Batches: 4 rows x 2 queries, 16 levels a step. Each row's levels are widened once for both
 * queries and each query's weights once for the four rows (the one-query block widens both for
 * every pair: 100k x 384, 64 queries: 907/921 -> 1000/1048 q/s). The last partial step reads the
 * rows through a zeroed buffer; the weights past d are zero (prepared query padding), so the
 * flipped zero bytes add nothing. Integer sums: the bits of the one-query block. */
INLINE void u8_block42(const int8_t *const *w, const uint8_t *x, size_t d, __m256i fl,
                       int32_t out[2][4]) {
  __m256i acc[2][4];
  for (int a = 0; a < 2; a++)
    for (int r = 0; r < 4; r++) acc[a][r] = _mm256_setzero_si256();
  const __m128i fl16 = _mm256_castsi256_si128(fl);
  for (size_t j = 0; j < d; j += 16) {
    __m256i xv[4];
    for (int r = 0; r < 4; r++) {
      __m128i c;
      if (j + 16 <= d) {
        c = _mm_loadu_si128((const __m128i *)(x + r * d + j));
      } else {
        uint8_t buf[16] = {0};
        memcpy(buf, x + r * d + j, d - j);
        c = _mm_loadu_si128((const __m128i *)buf);
      }
      xv[r] = _mm256_cvtepu8_epi16(_mm_xor_si128(c, fl16));
    }
    for (int a = 0; a < 2; a++) {
      __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w[a] + j)));
      for (int r = 0; r < 4; r++)
        acc[a][r] = _mm256_add_epi32(acc[a][r], _mm256_madd_epi16(wv, xv[r]));
    }
  }
  for (int a = 0; a < 2; a++) _mm_storeu_si128((__m128i *)out[a], reduce4_epi32(acc[a]));
}

void vec_score_u8_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            size_t nr, size_t d, unsigned flip, float *ip, size_t ldo) {
  size_t d32 = d & ~(size_t)31;
  int tail = d32 < d;
  uint8_t keep[32];
  for (int i = 0; i < 32; i++) keep[i] = d < 32 || (d - 32 + (size_t)i) >= d32 ? 0xff : 0;
  const __m256i km = _mm256_loadu_si256((const __m256i *)keep);
  const __m256i fl = _mm256_set1_epi8((char)flip);
  for (size_t r = 0; r < nr; r += 4) {
    size_t R = nr - r >= 4 ? 4 : nr - r;
    size_t j = 0;
    for (; R == 4 && j + 2 <= nq; j += 2) {
      const int8_t *w2[2];
      int32_t o2[2][4];
      for (size_t a = 0; a < 2; a++)
        w2[a] = (const int8_t *)(qs + (j + a) * qstride + VEC_SCORE_HDR);
      u8_block42(w2, codes + r * d, d, fl, o2);
      for (size_t a = 0; a < 2; a++) {
        const uint8_t *h = qs + (j + a) * qstride;
        float sw = vec_score_hdr_f32(h), c0 = vec_score_hdr_f32(h + 4);
        for (size_t k = 0; k < 4; k++)
          ip[(j + a) * ldo + r + k] = vec_score_u8_out(c0, sw, o2[a][k]);
      }
    }
    for (; j < nq; j++) {
      const uint8_t *h = qs + j * qstride;
      const int8_t *w = (const int8_t *)(h + VEC_SCORE_HDR);
      float sw = vec_score_hdr_f32(h), c0 = vec_score_hdr_f32(h + 4);
      __m256i wt =
          _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(w + (d >= 32 ? d - 32 : 0))), km);
      int32_t out[4];
      if (R == 4)
        u8_block(4, w, wt, codes + r * d, d, d32, tail, fl, nq == 1, out);
      else
        for (size_t k = 0; k < R; k++)
          u8_block(1, w, wt, codes + (r + k) * d, d, d32, tail, fl, 1, out + k);
      for (size_t k = 0; k < R; k++) ip[j * ldo + r + k] = vec_score_u8_out(c0, sw, out[k]);
    }
  }
}

/* ---- binary: popcount by two 4-bit table look-ups, bytes summed by sad against zero. ---- */
INLINE __m256i popcnt8(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                         _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
}
INLINE __m256i popcnt_sad(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                       1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
  __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
  return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

INLINE void b1_block(int R, int Q, const uint8_t *const *qh, const __m256i *qt, __m256i tm,
                     const uint8_t *x, size_t nb, size_t cf, uint64_t out[2][4]) {
  __m256i acc[2][4];
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) acc[a][r] = _mm256_setzero_si256();
  for (size_t j = 0; j < cf; j += 32) {
    __m256i xv[4];
    for (int r = 0; r < R; r++) xv[r] = _mm256_loadu_si256((const __m256i *)(x + r * nb + j));
    for (int a = 0; a < Q; a++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(qh[a] + VEC_SCORE_HDR + j));
      for (int r = 0; r < R; r++)
        acc[a][r] = _mm256_add_epi64(acc[a][r], popcnt_sad(_mm256_xor_si256(q, xv[r])));
    }
  }
  __m256i xv[4];
  for (int r = 0; r < R; r++) xv[r] = tail32(x + r * nb, nb);
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++)
      acc[a][r] = _mm256_add_epi64(
          acc[a][r], popcnt_sad(_mm256_and_si256(_mm256_xor_si256(qt[a], xv[r]), tm)));
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) out[a][r] = (uint64_t)hsum_epi64(acc[a][r]);
}

static void score_b1_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                          size_t nr, size_t d, float *ip, size_t ldo) {
  size_t nb = (d + 7) / 8, cf = (nb - 1) / 32 * 32; /* the tail always holds the last byte */
  size_t base = nb >= 32 ? nb - 32 : 0;
  uint8_t keep[32];
  for (size_t i = 0; i < 32; i++) {
    size_t pos = base + i;
    keep[i] = pos < cf || pos >= nb ? 0 : pos == nb - 1 ? vec_score_b1_lastmask(d) : 0xff;
  }
  const __m256i tm = _mm256_loadu_si256((const __m256i *)keep);
  for (size_t j0 = 0; j0 < nq; j0 += 2) {
    int Q = nq - j0 >= 2 ? 2 : 1;
    const uint8_t *qh[2];
    __m256i qt[2];
    float mq[2];
    for (int a = 0; a < Q; a++) {
      qh[a] = qs + (j0 + (size_t)a) * qstride;
      mq[a] = vec_score_hdr_f32(qh[a]);
      qt[a] = _mm256_loadu_si256((const __m256i *)(qh[a] + VEC_SCORE_HDR + base));
    }
    size_t r = 0;
    uint64_t out[2][4];
    for (; r + 4 <= nr; r += 4) {
      if (Q == 2)
        b1_block(4, 2, qh, qt, tm, codes + r * nb, nb, cf, out);
      else
        b1_block(4, 1, qh, qt, tm, codes + r * nb, nb, cf, out);
      for (int a = 0; a < Q; a++)
        for (int k = 0; k < 4; k++)
          ip[(j0 + (size_t)a) * ldo + r + (size_t)k] = vec_score_b1_out(mq[a], d, out[a][k]);
    }
    for (; r < nr; r++) {
      if (Q == 2)
        b1_block(1, 2, qh, qt, tm, codes + r * nb, nb, cf, out);
      else
        b1_block(1, 1, qh, qt, tm, codes + r * nb, nb, cf, out);
      for (int a = 0; a < Q; a++)
        ip[(j0 + (size_t)a) * ldo + r] = vec_score_b1_out(mq[a], d, out[a][0]);
    }
  }
}

/* ---- int8 and binary batches on a transposed tile of 16 rows (search_tmpl.h). ---- */
#define ST_W        8
#define ST_QB       4
#define ST_FN(name) name##_avx2
#define ST_ATTR_I8
#define ST_ATTR_B1
#define ST_VNNI                 0
#define ST_HWPOP                0
#define ST_VI                   __m256i
#define ST_VF                   __m256
#define ST_LOAD(p)              _mm256_load_si256((const __m256i *)(const void *)(p))
#define ST_SET1(v)              _mm256_set1_epi32(v)
#define ST_ZERO()               _mm256_setzero_si256()
#define ST_XOR(a, b)            _mm256_xor_si256(a, b)
#define ST_ADD8(a, b)           _mm256_add_epi8(a, b)
#define ST_ADD32(a, b)          _mm256_add_epi32(a, b)
#define ST_SUB32(a, b)          _mm256_sub_epi32(a, b)
#define ST_CVT(a)               _mm256_cvtepi32_ps(a)
#define ST_LOADF(p)             _mm256_load_ps(p)
#define ST_MULF(a, b)           _mm256_mul_ps(a, b)
#define ST_SET1F(v)             _mm256_set1_ps(v)
#define ST_STOREF(p, v)         _mm256_storeu_ps(p, v)
#define ST_I8PREP(x)            _mm256_abs_epi8(x)
#define ST_I8DOT(acc, x, ax, q) i8_step(acc, ax, x, q)
#define ST_POP8(v)              popcnt8(v)
#define ST_BYTESUM32(c)                                                                            \
  _mm256_madd_epi16(_mm256_maddubs_epi16(c, _mm256_set1_epi8(1)), _mm256_set1_epi16(1))
#define ST_I8_FALLBACK score_i8_avx2
#define ST_B1_FALLBACK score_b1_avx2
#define ST_U8_FALLBACK vec_score_u8_rows_avx2
#define ST_ADDF(a, b)  _mm256_add_ps(a, b)
#include "search_tmpl.h"

/* ---- f16 / bf16 / int16: codes widened to floats in registers. Blocks of 4 rows x up to 3
 * queries, one 8-lane accumulator a pair (12 FMA chains): each row vector is widened once for
 * every query of the block. A pair's sum depends on nothing but its row and query (a short block
 * repeats its last row; the transposing reduction keeps slots apart). ---- */
enum { H_F16 = 0, H_BF16 = 1, H_I16 = 2 };

INLINE __m256 h8(const uint8_t *p, int kind) {
  __m128i c = _mm_loadu_si128((const __m128i *)p);
  if (kind == H_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(c), 16));
  if (kind == H_I16) return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(c));
  return _mm256_cvtph_ps(c);
}

/* The sums of four accumulators at once (lane i: v[i]'s), each in the same fixed tree. */
INLINE __m128 reduce4_ps(const __m256 *v) {
  __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* 4 rows (x[0..3], repeats allowed) x Q queries: out[k][r]. */
INLINE void h_block(int Q, const float *const *q, const uint8_t *const *x, size_t d, int kind,
                    float out[3][4]) {
  size_t d8 = d & ~(size_t)7;
  __m256 acc[3][4];
  for (int k = 0; k < Q; k++)
    for (int r = 0; r < 4; r++) acc[k][r] = _mm256_setzero_ps();
  /* One query reads the rows one after the other: a single stream the hardware prefetcher
   * follows (200k x 384 f16 on AVX-512: 50 -> 92 q/s against four interleaved rows). Each pair's
   * FMA chain is the same in either order, so the bits are too. */
  if (Q == 1) {
    for (int r = 0; r < 4; r++)
      for (size_t j = 0; j < d8; j += 8)
        acc[0][r] = _mm256_fmadd_ps(_mm256_loadu_ps(q[0] + j), h8(x[r] + 2 * j, kind), acc[0][r]);
  } else {
    for (size_t j = 0; j < d8; j += 8) {
      __m256 xv[4];
      for (int r = 0; r < 4; r++) xv[r] = h8(x[r] + 2 * j, kind);
      for (int k = 0; k < Q; k++) {
        __m256 u = _mm256_loadu_ps(q[k] + j);
        for (int r = 0; r < 4; r++) acc[k][r] = _mm256_fmadd_ps(u, xv[r], acc[k][r]);
      }
    }
  }
  if (d8 < d) {
    /* The query is zero-padded; the rows' last codes go through a zeroed buffer. */
    __m256 xv[4];
    for (int r = 0; r < 4; r++) {
      uint8_t buf[16] = {0};
      memcpy(buf, x[r] + 2 * d8, 2 * (d - d8));
      xv[r] = h8(buf, kind);
    }
    for (int k = 0; k < Q; k++) {
      __m256 u = _mm256_loadu_ps(q[k] + d8);
      for (int r = 0; r < 4; r++) acc[k][r] = _mm256_fmadd_ps(u, xv[r], acc[k][r]);
    }
  }
  for (int k = 0; k < Q; k++) _mm_storeu_ps(out[k], reduce4_ps(acc[k]));
}

/* scales: int16's per-row scales (ip = s * dot), NULL for f16 / bf16. */
INLINE void score_h(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                    const float *scales, size_t nr, size_t d, float *ip, size_t ldo, int kind) {
  for (size_t r = 0; r < nr; r += 4) {
    size_t R = nr - r >= 4 ? 4 : nr - r;
    const uint8_t *x[4];
    for (size_t i = 0; i < 4; i++) x[i] = codes + (r + (i < R ? i : R - 1)) * 2 * d;
    for (size_t j = 0; j < nq; j += 3) {
      size_t Q = nq - j >= 3 ? 3 : nq - j;
      const float *q[3];
      for (size_t k = 0; k < Q; k++)
        q[k] = (const float *)(const void *)(qs + (j + k) * qstride + VEC_SCORE_HDR);
      float out[3][4];
      switch (Q) {
      case 3: h_block(3, q, x, d, kind, out); break;
      case 2: h_block(2, q, x, d, kind, out); break;
      default: h_block(1, q, x, d, kind, out); break;
      }
      for (size_t k = 0; k < Q; k++)
        for (size_t i = 0; i < R; i++)
          ip[(j + k) * ldo + r + i] =
              scales ? vec_score_i16_out(scales[r + i], out[k][i]) : out[k][i];
    }
  }
}

static void score_f16_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                           size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, H_F16);
}
static void score_bf16_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, H_BF16);
}
static void score_i16_avx2(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                           const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, scales, nr, d, ip, ldo, H_I16);
}

const vec_score_kernels vec_score_table_avx2 = {.i8 = vec_score_i8_tile_avx2,
                                                .b1 = vec_score_b1_tile_avx2,
                                                .f16 = score_f16_avx2,
                                                .bf16 = score_bf16_avx2,
                                                .i16 = score_i16_avx2,
                                                .i4 = score_i4_avx2,
                                                .u8 = vec_score_u8_tile_avx2};
