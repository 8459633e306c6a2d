/* score_avx512.c: AVX-512 scoring kernels. int8 by VNNI's vpdpbusd where the CPU has it (codes
 * biased to unsigned, the bias removed once per query), else by the BW sign/maddubs pair; binary by
 * VPOPCNTDQ where present, else a 4-bit table; f16 through F16C, bf16 and int16 widened; int4 on a
 * transposed tile (score_i4g_tmpl.h, VNNI or maddubs). Blocks of 4 rows x 4 queries keep
 * 16 accumulators in registers and load each row chunk once for all 4 queries. Tails are
 * zero-masked loads, which never touch bytes past the row. */
#include <immintrin.h>

#include "half_kernels.h"
#include "score_kernels.h"

#define INLINE static inline __attribute__((always_inline))
#define VNNI   __attribute__((target("avx512vnni")))
#define POPCNT __attribute__((target("avx512vpopcntdq")))

/* vpdpbusd: acc += u (unsigned bytes) x s (signed bytes), four products a lane. GCC 12 copies
 * every accumulator of the intrinsic twice per use in register-tiled loops (measured: the int8
 * batch kernel ran at 66 % of the instruction's peak); the asm keeps them in place. */
INLINE VNNI __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, u, s);
#endif
}

INLINE __mmask64 tail_mask64(size_t rem) {
  return rem >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << rem) - 1;
}

/* ---- int8 ---- */
/* vec_score_i8_out for 4 rows: the same IEEE operations in the same order, so the same bits. */
INLINE void i8_out4(float sq, const float *sc, const int32_t *o, float *dst) {
  __m128 s = _mm_mul_ps(_mm_set1_ps(sq), _mm_loadu_ps(sc));
  _mm_storeu_ps(dst, _mm_mul_ps(s, _mm_cvtepi32_ps(_mm_loadu_si128((const __m128i *)o))));
}
/* The four row sums of one query at once: a transposing add tree costs a third of four separate
 * horizontal reductions, which matter at d = 384 (only 6 vector steps per row). */
INLINE __m128i reduce4_epi32(const __m512i *v) {
  __m256i h[4];
  for (int i = 0; i < 4; i++)
    h[i] = _mm256_add_epi32(_mm512_castsi512_si256(v[i]), _mm512_extracti64x4_epi64(v[i], 1));
  __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(h[0], h[1]), _mm256_hadd_epi32(h[2], h[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/* Without VNNI: |q| * (x with q's sign) through maddubs; |q|, |x| <= 127 so pairs never saturate.
 */
INLINE __m512i i8_bw_step(__m512i acc, __m512i aq, __mmask64 neg, __m512i x) {
  __m512i xs = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
  __m512i p = _mm512_maddubs_epi16(aq, xs);
  return _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_set1_epi16(1)));
}

/* One block of R rows x Q queries. vnni: sum over (x + 128) * q in wrapping int32, corrected by
 * 128 * sum(q) afterwards (exact modulo 2^32, and the true dot fits in int32 for our d). */
#define I8_BLOCK_BODY(STEP_SETUP, STEP)                                                            \
  __m512i acc[4][4];                                                                               \
  for (int a = 0; a < Q; a++)                                                                      \
    for (int r = 0; r < R; r++) acc[a][r] = _mm512_setzero_si512();                                \
  size_t d64 = d & ~(size_t)63;                                                                    \
  for (size_t j = 0; j < d64; j += 64) {                                                           \
    __m512i xv[4];                                                                                 \
    for (int r = 0; r < R; r++) xv[r] = _mm512_loadu_si512((const void *)(x + r * d + j));         \
    STEP_SETUP                                                                                     \
    for (int a = 0; a < Q; a++) {                                                                  \
      __m512i q = _mm512_loadu_si512((const void *)(qh[a] + VEC_SCORE_HDR + j));                   \
      STEP                                                                                         \
    }                                                                                              \
  }                                                                                                \
  if (d64 < d) {                                                                                   \
    __mmask64 m = tail_mask64(d - d64);                                                            \
    __m512i xv[4];                                                                                 \
    for (int r = 0; r < R; r++) xv[r] = _mm512_maskz_loadu_epi8(m, x + r * d + d64);               \
    STEP_SETUP                                                                                     \
    for (int a = 0; a < Q; a++) {                                                                  \
      __m512i q = _mm512_loadu_si512((const void *)(qh[a] + VEC_SCORE_HDR + d64));                 \
      STEP                                                                                         \
    }                                                                                              \
  }

INLINE void i8_block_bw(int R, int Q, const uint8_t *const *qh, const int8_t *x, size_t d,
                        int32_t out[4][4]) {
  I8_BLOCK_BODY(, {
    __m512i aq = _mm512_abs_epi8(q);
    __mmask64 neg = _mm512_movepi8_mask(q);
    for (int r = 0; r < R; r++) acc[a][r] = i8_bw_step(acc[a][r], aq, neg, xv[r]);
  })
  for (int a = 0; a < Q; a++) {
    if (R == 4)
      _mm_storeu_si128((__m128i *)out[a], reduce4_epi32(acc[a]));
    else
      out[a][0] = _mm512_reduce_add_epi32(acc[a][0]);
  }
}

/* One query: the R rows one after the other, a single stream for the hardware prefetcher (four
 * interleaved rows read at 59 % of the bandwidth in single-query scans of 1M rows). Masked-off
 * tail bytes flip to 0x80 but meet the query's zero padding. */
INLINE VNNI void i8_rows_vnni(int R, const uint8_t *qh, const int8_t *x, size_t d, int32_t *out) {
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  const uint8_t *q = qh + VEC_SCORE_HDR;
  size_t d64 = d & ~(size_t)63;
  __m512i acc[4];
  for (int r = 0; r < R; r++) {
    acc[r] = _mm512_setzero_si512();
    for (size_t j = 0; j < d64; j += 64)
      acc[r] =
          dpbusd(acc[r], _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + r * d + j)), bias),
                 _mm512_loadu_si512((const void *)(q + j)));
    if (d64 < d)
      acc[r] = dpbusd(
          acc[r],
          _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail_mask64(d - d64), x + r * d + d64), bias),
          _mm512_loadu_si512((const void *)(q + d64)));
  }
  uint32_t corr = 128u * (uint32_t)vec_score_hdr_i32(qh, 4);
  if (R == 4)
    _mm_storeu_si128((__m128i *)out, _mm_sub_epi32(reduce4_epi32(acc), _mm_set1_epi32((int)corr)));
  else
    out[0] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(acc[0]) - corr);
}

INLINE VNNI void i8_block_vnni(int R, int Q, const uint8_t *const *qh, const int8_t *x, size_t d,
                               int32_t out[4][4]) {
  if (Q == 1) {
    i8_rows_vnni(R, qh[0], x, d, out[0]);
    return;
  }
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  I8_BLOCK_BODY(for (int r = 0; r < R; r++) xv[r] = _mm512_xor_si512(xv[r], bias);, {
    for (int r = 0; r < R; r++) acc[a][r] = dpbusd(acc[a][r], xv[r], q);
  })
  for (int a = 0; a < Q; a++) {
    uint32_t corr = 128u * (uint32_t)vec_score_hdr_i32(qh[a], 4);
    if (R == 4)
      _mm_storeu_si128((__m128i *)out[a],
                       _mm_sub_epi32(reduce4_epi32(acc[a]), _mm_set1_epi32((int)corr)));
    else
      out[a][0] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(acc[a][0]) - corr);
  }
}

/* Rows outer, queries inner: a block of 4 rows stays in L1 while every query passes over it. */
#define I8_DRIVER(BLOCK)                                                                           \
  int32_t out[4][4];                                                                               \
  for (size_t r = 0; r < nr; r += 4) {                                                             \
    size_t R = nr - r >= 4 ? 4 : nr - r;                                                           \
    for (size_t j0 = 0; j0 < nq; j0 += 4) {                                                        \
      size_t Q = nq - j0 >= 4 ? 4 : nq - j0;                                                       \
      const uint8_t *qh[4];                                                                        \
      for (size_t a = 0; a < Q; a++) qh[a] = qs + (j0 + a) * qstride;                              \
      const int8_t *x = codes + r * d;                                                             \
      if (R == 4 && Q == 4)                                                                        \
        BLOCK(4, 4, qh, x, d, out);                                                                \
      else if (R == 4)                                                                             \
        for (size_t a = 0; a < Q; a++) BLOCK(4, 1, qh + a, x, d, out + a);                         \
      else                                                                                         \
        for (size_t a = 0; a < Q; a++)                                                             \
          for (size_t k = 0; k < R; k++) {                                                         \
            int32_t o1[4][4];                                                                      \
            BLOCK(1, 1, qh + a, x + k * d, d, o1);                                                 \
            out[a][k] = o1[0][0];                                                                  \
          }                                                                                        \
      for (size_t a = 0; a < Q; a++) {                                                             \
        float sq = vec_score_hdr_f32(qh[a]);                                                       \
        if (R == 4)                                                                                \
          i8_out4(sq, scales + r, out[a], ip + (j0 + a) * ldo + r);                                \
        else                                                                                       \
          for (size_t k = 0; k < R; k++)                                                           \
            ip[(j0 + a) * ldo + r + k] = vec_score_i8_out(sq, scales[r + k], out[a][k]);           \
      }                                                                                            \
    }                                                                                              \
  }

static void score_i8_avx512(const uint8_t *qs, size_t qstride, size_t nq, const int8_t *codes,
                            const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  I8_DRIVER(i8_block_bw);
}

static VNNI void score_i8_avx512_vnni(const uint8_t *qs, size_t qstride, size_t nq,
                                      const int8_t *codes, const float *scales, size_t nr, size_t d,
                                      float *ip, size_t ldo) {
  I8_DRIVER(i8_block_vnni);
}

/* ---- calibrated: levels are unsigned already, exactly vpdpbusd's u8 x s8 (no bias). ---- */
INLINE VNNI void u8_block_vnni(int R, int Q, const uint8_t *const *qh, const uint8_t *x, size_t d,
                               __m512i fl, int32_t out[4][4]) {
  __m512i acc[4][4];
  for (int a = 0; a < Q; a++)
    for (int r = 0; r < R; r++) acc[a][r] = _mm512_setzero_si512();
  size_t d64 = d & ~(size_t)63;
  /* One query reads the rows one after the other: one stream for the hardware prefetcher (four
   * interleaved rows left single-query scans short of the read bandwidth). Integer sums: the
   * order changes no bit. */
  if (Q == 1) {
    const __m512i *w = (const __m512i *)(const void *)(qh[0] + VEC_SCORE_HDR);
    for (int r = 0; r < R; r++) {
      for (size_t j = 0; j < d64; j += 64)
        acc[0][r] = dpbusd(acc[0][r],
                           _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + r * d + j)), fl),
                           _mm512_loadu_si512(w + j / 64));
      if (d64 < d)
        acc[0][r] = dpbusd(
            acc[0][r],
            _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail_mask64(d - d64), x + r * d + d64), fl),
            _mm512_loadu_si512(w + d64 / 64));
    }
  }
  for (size_t j = 0; Q > 1 && j < d64 + 64; j += 64) {
    if (j == d64 && d64 == d) break;
    __mmask64 m = tail_mask64(d - j);
    __m512i xv[4];
    /* Masked-off bytes load as 0 and flip to 0x80, but their weights are 0 (zero padding). */
    for (int r = 0; r < R; r++)
      xv[r] = _mm512_xor_si512(j < d64 ? _mm512_loadu_si512((const void *)(x + r * d + j))
                                       : _mm512_maskz_loadu_epi8(m, x + r * d + j),
                               fl);
    for (int a = 0; a < Q; a++) {
      __m512i w = _mm512_loadu_si512((const void *)(qh[a] + VEC_SCORE_HDR + j));
      for (int r = 0; r < R; r++) acc[a][r] = dpbusd(acc[a][r], xv[r], w);
    }
  }
  for (int a = 0; a < Q; a++) {
    if (R == 4)
      _mm_storeu_si128((__m128i *)out[a], reduce4_epi32(acc[a]));
    else
      out[a][0] = _mm512_reduce_add_epi32(acc[a][0]);
  }
}

static VNNI void score_u8_avx512_vnni(const uint8_t *qs, size_t qstride, size_t nq,
                                      const uint8_t *codes, size_t nr, size_t d, unsigned flip,
                                      float *ip, size_t ldo) {
  const __m512i fl = _mm512_set1_epi8((char)flip);
  int32_t out[4][4];
  for (size_t r = 0; r < nr; r += 4) {
    size_t R = nr - r >= 4 ? 4 : nr - r;
    for (size_t j0 = 0; j0 < nq; j0 += 4) {
      size_t Q = nq - j0 >= 4 ? 4 : nq - j0;
      const uint8_t *qh[4];
      for (size_t a = 0; a < Q; a++) qh[a] = qs + (j0 + a) * qstride;
      const uint8_t *x = codes + r * d;
      if (R == 4 && Q == 4)
        u8_block_vnni(4, 4, qh, x, d, fl, out);
      else if (R == 4)
        for (size_t a = 0; a < Q; a++) u8_block_vnni(4, 1, qh + a, x, d, fl, out + a);
      else
        for (size_t a = 0; a < Q; a++)
          for (size_t k = 0; k < R; k++) {
            int32_t o1[4][4];
            u8_block_vnni(1, 1, qh + a, x + k * d, d, fl, o1);
            out[a][k] = o1[0][0];
          }
      for (size_t a = 0; a < Q; a++) {
        float sw = vec_score_hdr_f32(qh[a]), c0 = vec_score_hdr_f32(qh[a] + 4);
        for (size_t k = 0; k < R; k++)
          ip[(j0 + a) * ldo + r + k] = vec_score_u8_out(c0, sw, out[a][k]);
      }
    }
  }
}

/* ---- binary ---- */
/* Four rows' 64-bit lane sums at once, as reduce4_epi32. */
INLINE __m256i reduce4_epi64(const __m512i *v) {
  __m256i h[4];
  for (int i = 0; i < 4; i++)
    h[i] = _mm256_add_epi64(_mm512_castsi512_si256(v[i]), _mm512_extracti64x4_epi64(v[i], 1));
  __m256i a =
      _mm256_add_epi64(_mm256_unpacklo_epi64(h[0], h[1]), _mm256_unpackhi_epi64(h[0], h[1]));
  __m256i b =
      _mm256_add_epi64(_mm256_unpacklo_epi64(h[2], h[3]), _mm256_unpackhi_epi64(h[2], h[3]));
  return _mm256_add_epi64(_mm256_permute2x128_si256(a, b, 0x20),
                          _mm256_permute2x128_si256(a, b, 0x31));
}

/* vec_score_b1_out for 4 rows; d - 2 * ham fits int32 (callers check d < 2^30), where int32 and
 * int64 convert to the same float. */
INLINE void b1_out4(float mq, size_t d, const uint64_t *ham, float *dst) {
  __m128i h = _mm256_cvtepi64_epi32(_mm256_loadu_si256((const __m256i *)ham));
  __m128i v = _mm_sub_epi32(_mm_set1_epi32((int)d), _mm_slli_epi32(h, 1));
  _mm_storeu_ps(dst, _mm_mul_ps(_mm_set1_ps(mq), _mm_cvtepi32_ps(v)));
}
INLINE __m512i popcnt_lut(__m512i v) {
  const __m512i lut =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i low = _mm512_set1_epi8(0x0f);
  __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, low));
  __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
  return _mm512_sad_epu8(_mm512_add_epi8(lo, hi), _mm512_setzero_si512());
}
INLINE POPCNT __m512i popcnt_hw(__m512i v) { return _mm512_popcnt_epi64(v); }

/* The tail chunk always holds the row's last byte (cf = full chunks before it), so the pad-bit
 * mask applies there only. */
#define B1_BLOCK_BODY(POP)                                                                         \
  __m512i acc[4][4];                                                                               \
  for (int a = 0; a < Q; a++)                                                                      \
    for (int r = 0; r < R; r++) acc[a][r] = _mm512_setzero_si512();                                \
  for (size_t j = 0; j <= cf; j += 64) {                                                           \
    int last = j == cf;                                                                            \
    __mmask64 m = last ? tail_mask64(nb - cf) : ~(__mmask64)0;                                     \
    __m512i xv[4];                                                                                 \
    for (int r = 0; r < R; r++) {                                                                  \
      xv[r] = last ? _mm512_and_si512(_mm512_maskz_loadu_epi8(m, x + r * nb + j), tm)              \
                   : _mm512_loadu_si512((const void *)(x + r * nb + j));                           \
    }                                                                                              \
    for (int a = 0; a < Q; a++) {                                                                  \
      __m512i q = _mm512_loadu_si512((const void *)(qh[a] + VEC_SCORE_HDR + j));                   \
      for (int r = 0; r < R; r++)                                                                  \
        acc[a][r] = _mm512_add_epi64(acc[a][r], POP(_mm512_xor_si512(q, xv[r])));                  \
    }                                                                                              \
  }                                                                                                \
  for (int a = 0; a < Q; a++) {                                                                    \
    if (R == 4)                                                                                    \
      _mm256_storeu_si256((__m256i *)out[a], reduce4_epi64(acc[a]));                               \
    else                                                                                           \
      out[a][0] = (uint64_t)_mm512_reduce_add_epi64(acc[a][0]);                                    \
  }

/* The query's pad bits are zero (query_prepare), so masking the row's pad bits suffices. */
INLINE void b1_block_lut(int R, int Q, const uint8_t *const *qh, const uint8_t *x, size_t nb,
                         size_t cf, __m512i tm, uint64_t out[4][4]) {
  B1_BLOCK_BODY(popcnt_lut);
}
INLINE POPCNT void b1_block_hw(int R, int Q, const uint8_t *const *qh, const uint8_t *x, size_t nb,
                               size_t cf, __m512i tm, uint64_t out[4][4]) {
  B1_BLOCK_BODY(popcnt_hw);
}

#define B1_DRIVER(BLOCK)                                                                           \
  size_t nb = (d + 7) / 8, cf = (nb - 1) / 64 * 64;                                                \
  uint8_t keep[64] = {0};                                                                          \
  memset(keep, 0xff, nb - cf);                                                                     \
  keep[nb - cf - 1] = vec_score_b1_lastmask(d);                                                    \
  const __m512i tm = _mm512_loadu_si512((const void *)keep);                                       \
  uint64_t out[4][4];                                                                              \
  for (size_t r = 0; r < nr; r += 4) {                                                             \
    size_t R = nr - r >= 4 ? 4 : nr - r;                                                           \
    for (size_t j0 = 0; j0 < nq; j0 += 4) {                                                        \
      size_t Q = nq - j0 >= 4 ? 4 : nq - j0;                                                       \
      const uint8_t *qh[4];                                                                        \
      for (size_t a = 0; a < Q; a++) qh[a] = qs + (j0 + a) * qstride;                              \
      const uint8_t *x = codes + r * nb;                                                           \
      if (R == 4 && Q == 4)                                                                        \
        BLOCK(4, 4, qh, x, nb, cf, tm, out);                                                       \
      else if (R == 4)                                                                             \
        for (size_t a = 0; a < Q; a++) BLOCK(4, 1, qh + a, x, nb, cf, tm, out + a);                \
      else                                                                                         \
        for (size_t a = 0; a < Q; a++)                                                             \
          for (size_t k = 0; k < R; k++) {                                                         \
            uint64_t o1[4][4];                                                                     \
            BLOCK(1, 1, qh + a, x + k * nb, nb, cf, tm, o1);                                       \
            out[a][k] = o1[0][0];                                                                  \
          }                                                                                        \
      for (size_t a = 0; a < Q; a++) {                                                             \
        float mq = vec_score_hdr_f32(qh[a]);                                                       \
        if (R == 4 && d < ((size_t)1 << 30))                                                       \
          b1_out4(mq, d, out[a], ip + (j0 + a) * ldo + r);                                         \
        else                                                                                       \
          for (size_t k = 0; k < R; k++)                                                           \
            ip[(j0 + a) * ldo + r + k] = vec_score_b1_out(mq, d, out[a][k]);                       \
      }                                                                                            \
    }                                                                                              \
  }

static void score_b1_avx512(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            size_t nr, size_t d, float *ip, size_t ldo) {
  B1_DRIVER(b1_block_lut);
}
static POPCNT void score_b1_avx512_popcnt(const uint8_t *qs, size_t qstride, size_t nq,
                                          const uint8_t *codes, size_t nr, size_t d, float *ip,
                                          size_t ldo) {
  B1_DRIVER(b1_block_hw);
}

/* ---- int8 and binary batches on a transposed tile of 32 rows (search_tmpl.h): VNNI and
 * VPOPCNTDQ, and the BW-only twin (maddubs, 4-bit tables). ---- */
INLINE __m512i popcnt8(__m512i v) {
  const __m512i lut =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i low = _mm512_set1_epi8(0x0f);
  return _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(v, low)),
                         _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), low)));
}
/* |x| * (q with x's sign): maddubs' unsigned operand must be the row's, the broadcast differs. */
INLINE __m512i i8_bw_dot(__m512i acc, __m512i x, __m512i ax, __m512i q) {
  __m512i qs = _mm512_mask_sub_epi8(q, _mm512_movepi8_mask(x), _mm512_setzero_si512(), q);
  return _mm512_add_epi32(acc,
                          _mm512_madd_epi16(_mm512_maddubs_epi16(ax, qs), _mm512_set1_epi16(1)));
}
#define ST_W                    16
#define ST_QB                   8
#define ST_FN(name)             name##_avx512
#define ST_ATTR_I8              VNNI
#define ST_ATTR_B1              POPCNT
#define ST_VNNI                 1
#define ST_HWPOP                1
#define ST_VI                   __m512i
#define ST_VF                   __m512
#define ST_LOAD(p)              _mm512_load_si512((const void *)(p))
#define ST_SET1(v)              _mm512_set1_epi32(v)
#define ST_ZERO()               _mm512_setzero_si512()
#define ST_XOR(a, b)            _mm512_xor_si512(a, b)
#define ST_ADD8(a, b)           _mm512_add_epi8(a, b)
#define ST_ADD32(a, b)          _mm512_add_epi32(a, b)
#define ST_SUB32(a, b)          _mm512_sub_epi32(a, b)
#define ST_CVT(a)               _mm512_cvtepi32_ps(a)
#define ST_LOADF(p)             _mm512_load_ps(p)
#define ST_MULF(a, b)           _mm512_mul_ps(a, b)
#define ST_SET1F(v)             _mm512_set1_ps(v)
#define ST_STOREF(p, v)         _mm512_storeu_ps(p, v)
#define ST_I8PREP(x)            (x)
#define ST_I8DOT(acc, x, ax, q) ((void)(ax), dpbusd(acc, x, q))
#define ST_XOR_POPCNT_ADD(acc, x, q)                                                               \
  _mm512_add_epi32(acc, _mm512_popcnt_epi32(_mm512_xor_si512(x, q)))
#define ST_POP8(v) popcnt8(v)
#define ST_BYTESUM32(c)                                                                            \
  _mm512_madd_epi16(_mm512_maddubs_epi16(c, _mm512_set1_epi8(1)), _mm512_set1_epi16(1))
#define ST_I8_FALLBACK score_i8_avx512_vnni
#define ST_B1_FALLBACK score_b1_avx512_popcnt
#define ST_U8_FALLBACK score_u8_avx512_vnni
#define ST_ADDF(a, b)  _mm512_add_ps(a, b)
#include "search_tmpl.h"
#undef ST_FN
#undef ST_ATTR_I8
#undef ST_ATTR_B1
#undef ST_VNNI
#undef ST_HWPOP
#undef ST_I8PREP
#undef ST_I8DOT
#undef ST_I8_FALLBACK
#undef ST_B1_FALLBACK
#undef ST_U8_FALLBACK
#define ST_FN(name) name##_avx512bw
#define ST_ATTR_I8
#define ST_ATTR_B1
#define ST_VNNI                 0
#define ST_HWPOP                0
#define ST_I8PREP(x)            _mm512_abs_epi8(x)
#define ST_I8DOT(acc, x, ax, q) i8_bw_dot(acc, x, ax, q)
#define ST_I8_FALLBACK          score_i8_avx512
#define ST_B1_FALLBACK          score_b1_avx512
#define ST_U8_FALLBACK          vec_score_u8_rows_avx2
#include "search_tmpl.h"

/* ---- f16 / bf16 / int16: codes widened to floats in registers. Blocks of 4 rows x up to 4
 * queries, one 16-lane accumulator a pair: each row vector is widened once for every query of the
 * block, and 16 independent FMA chains cover the FMA latency. A pair's sum depends on nothing but
 * its row and query (a short block repeats its last row; the transposing reduction keeps slots
 * apart), so a row scores the same bits whatever its tile. ---- */
enum { H_F16 = 0, H_BF16 = 1, H_I16 = 2 };

INLINE __m512 h16(__mmask16 m, int full, const uint8_t *p, int kind) {
  __m256i c = full ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p);
  if (kind == H_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(c), 16));
  if (kind == H_I16) return _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(c));
  return _mm512_cvtph_ps(c);
}

/* The sums of four accumulators at once (lane i: v[i]'s), each in the same fixed tree. */
INLINE __m128 reduce4_ps(const __m512 *v) {
  __m256 h[4];
  for (int i = 0; i < 4; i++)
    h[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[i]), 1)));
  __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* 4 rows (x[0..3], repeats allowed) x Q queries: out[k][r]. */
INLINE void h_block(int Q, const float *const *q, const uint8_t *const *x, size_t d, int kind,
                    float out[4][4]) {
  size_t d16 = d & ~(size_t)15;
  __m512 acc[4][4];
  for (int k = 0; k < Q; k++)
    for (int r = 0; r < 4; r++) acc[k][r] = _mm512_setzero_ps();
  /* Plain loads for whole steps (masked ones run slower on some cores), masks on the tail only.
   * One query reads the rows one after the other: a single stream the hardware prefetcher follows
   * (four interleaved rows ran at 8 GB/s where FAISS's row-at-a-time scan reached 20). Each pair's
   * FMA chain is the same in either order, so the bits are too. */
  if (Q == 1) {
    for (int r = 0; r < 4; r++)
      for (size_t j = 0; j < d16; j += 16)
        acc[0][r] = _mm512_fmadd_ps(_mm512_loadu_ps(q[0] + j), h16(0xffff, 1, x[r] + 2 * j, kind),
                                    acc[0][r]);
  } else {
    for (size_t j = 0; j < d16; j += 16) {
      __m512 xv[4];
      for (int r = 0; r < 4; r++) xv[r] = h16(0xffff, 1, x[r] + 2 * j, kind);
      for (int k = 0; k < Q; k++) {
        __m512 u = _mm512_loadu_ps(q[k] + j);
        for (int r = 0; r < 4; r++) acc[k][r] = _mm512_fmadd_ps(u, xv[r], acc[k][r]);
      }
    }
  }
  if (d16 < d) {
    __mmask16 m = (__mmask16)((1u << (d - d16)) - 1u);
    __m512 xv[4];
    for (int r = 0; r < 4; r++) xv[r] = h16(m, 0, x[r] + 2 * d16, kind);
    for (int k = 0; k < Q; k++) {
      __m512 u = _mm512_maskz_loadu_ps(m, q[k] + d16);
      for (int r = 0; r < 4; r++) acc[k][r] = _mm512_fmadd_ps(u, xv[r], acc[k][r]);
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
    for (size_t j = 0; j < nq; j += 4) {
      size_t Q = nq - j >= 4 ? 4 : nq - j;
      const float *q[4];
      for (size_t k = 0; k < Q; k++)
        q[k] = (const float *)(const void *)(qs + (j + k) * qstride + VEC_SCORE_HDR);
      float out[4][4];
      switch (Q) {
      case 4: h_block(4, q, x, d, kind, out); break;
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

static void score_f16_avx512(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, H_F16);
}
static void score_bf16_avx512(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                              size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, H_BF16);
}
static void score_i16_avx512(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  score_h(qs, qstride, nq, codes, scales, nr, d, ip, ldo, H_I16);
}

/* ---- int4 on a transposed tile of 16 rows (score_i4g_tmpl.h), with BW's maddubs or VNNI. ---- */
#define I4G_W               16
#define I4G_VI              __m512i
#define I4G_VF              __m512
#define I4G_LOAD(p)         _mm512_load_si512((const void *)(p))
#define I4G_SET1(v)         _mm512_set1_epi32(v)
#define I4G_ZERO()          _mm512_setzero_si512()
#define I4G_MADDUBS(u, s)   _mm512_maddubs_epi16(u, s)
#define I4G_DPBUSD(c, u, s) dpbusd(c, u, s)
#define I4G_ADD16(a, b)     _mm512_add_epi16(a, b)
#define I4G_ADD32(a, b)     _mm512_add_epi32(a, b)
#define I4G_SUB32(a, b)     _mm512_sub_epi32(a, b)
#define I4G_MADD1(a)        _mm512_madd_epi16(a, _mm512_set1_epi16(1))
#define I4G_CVT(a)          _mm512_cvtepi32_ps(a)
#define I4G_ZEROF()         _mm512_setzero_ps()
#define I4G_LOADF(p)        _mm512_load_ps(p)
#define I4G_MULF(a, b)      _mm512_mul_ps(a, b)
#define I4G_ADDF(a, b)      _mm512_add_ps(a, b)
#define I4G_SET1F(v)        _mm512_set1_ps(v)
#define I4G_STOREF(p, v)    _mm512_storeu_ps(p, v)
#define I4G_VNNI            0
#define I4G_FN(name)        name##_avx512
#define I4G_ATTR
#include "score_i4g_tmpl.h"
#undef I4G_VNNI
#undef I4G_FN
#undef I4G_ATTR
#define I4G_VNNI     1
#define I4G_FN(name) name##_avx512_vnni
#define I4G_ATTR     VNNI
#include "score_i4g_tmpl.h"

/* Fewer queries than a register block: the AVX2 row-order kernels (no transpose), as there. */
static void score_i4_avx512(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            const float *scales, size_t nr, size_t d, size_t g, float *ip,
                            size_t ldo) {
  if (g >= d && nq < 4)
    vec_score_i4_rows_avx2(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
  else if (g == 32 && d % 64 == 0 && nq < 4)
    vec_score_i4g32_rows_avx2(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
  else
    score_i4g_avx512(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
}
static void score_i4_avx512_vnni(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                 const float *scales, size_t nr, size_t d, size_t g, float *ip,
                                 size_t ldo) {
  if (g >= d && nq < 4)
    vec_score_i4_rows_avx2(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
  else if (g == 32 && d % 64 == 0 && nq < 4)
    vec_score_i4g32_rows_avx2(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
  else
    score_i4g_avx512_vnni(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
}

const vec_score_kernels vec_score_table_avx512 = {.i8 = vec_score_i8_tile_avx512bw,
                                                  .i8_vnni = vec_score_i8_tile_avx512,
                                                  .b1 = vec_score_b1_tile_avx512bw,
                                                  .b1_popcnt = vec_score_b1_tile_avx512,
                                                  .f16 = score_f16_avx512,
                                                  .bf16 = score_bf16_avx512,
                                                  .i16 = score_i16_avx512,
                                                  .i4 = score_i4_avx512,
                                                  .i4_vnni = score_i4_avx512_vnni,
                                                  .u8 = vec_score_u8_tile_avx512bw,
                                                  .u8_vnni = vec_score_u8_tile_avx512};
