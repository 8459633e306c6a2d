/* search_tmpl.h: batched int8 and binary scoring on a transposed tile of rows, written once for x86
 * vectors of ST_W 32-bit lanes and compiled twice (score_avx2.c: 8 lanes; score_avx512.c: 16).
 *
 * Why a transposed tile: a row-major kernel keeps one accumulator per (query, row) whose lanes
 * hold different dims, and pays a horizontal sum per pair at the end; at d = 384 that is a third
 * of the work. Here a block of ST_RB = 2 * ST_W rows is transposed once per call (so once per batch
 * of queries): lane r of vector (p, v) holds dword p (bytes 4p..4p+3) of row v * ST_W + r. One
 * broadcast dword of a query then feeds ST_W rows at once, each lane accumulating its own row's
 * sum, and a register block of ST_QB queries x 2 row vectors keeps 2 * ST_QB accumulators busy per
 * two vector loads. Integer sums are exact, so every result is bit-identical to the scalar kernel.
 *
 * The includer defines ST_W, ST_QB, ST_FN(name), ST_ATTR_I8 / ST_ATTR_B1 (target attributes),
 * ST_VNNI (1: vpdpbusd on codes biased to unsigned; 0: |x| x (q with x's sign) through maddubs,
 * which never saturates: |x| <= 128, |q| <= 127, 2 * 128 * 127 < 32767), ST_HWPOP (1: a 32-bit
 * popcount instruction, ST_XOR_POPCNT_ADD(acc, x, q); 0: two 4-bit table look-ups a byte, byte
 * counts summed into the lanes every ST_B1_FLUSH positions), the vector macros below, and
 * ST_I8_FALLBACK / ST_B1_FALLBACK / ST_U8_FALLBACK (calibrated 8-bit codes): the row-major
 * kernels, which take few queries (no transpose to amortise) and shapes past the tile. */

#ifndef ST_MAX_P
#define ST_MAX_P                                                                                   \
  512 /* dword positions a row: the tile (ST_MAX_P * 2 * ST_W lanes) is on the stack */
#define ST_MIN_Q    4  /* fewer queries a call: the row-major kernels */
#define ST_B1_FLUSH 31 /* byte counters take 31 positions of at most 8 bits set */
#endif

#define ST_RB (2 * ST_W)

/* Rows [0, nr) of rb bytes each (nr <= ST_RB; missing rows are zeros) into T[p * ST_RB + r]: 8 rows
 * at a time, 32 bytes each, by the usual 8 x 8 dword transpose. Bytes past a row's end are zero;
 * its last byte is ANDed with lastmask (binary pad bits); every byte is then XORed with bias. */
static inline void ST_FN(st_pack)(const uint8_t *x, size_t rb, size_t nr, size_t P,
                                  uint8_t lastmask, uint8_t bias, uint32_t *T) {
  const __m256i bv = _mm256_set1_epi8((char)bias);
  for (size_t h = 0; h < ST_RB; h += 8) {
    size_t rr = nr > h ? nr - h : 0;
    const uint8_t *xh = x + h * rb;
    for (size_t c = 0; c * 8 < P; c++) {
      __m256i v[8];
      size_t off = c * 32, len = rb - off < 32 ? rb - off : 32;
      for (size_t r = 0; r < 8; r++) {
        if (r >= rr) {
          v[r] = _mm256_setzero_si256();
        } else if (len == 32 && (off + 32 < rb || lastmask == 0xff)) {
          v[r] = _mm256_loadu_si256((const __m256i *)(const void *)(xh + r * rb + off));
        } else {
          uint8_t buf[32] = {0};
          memcpy(buf, xh + r * rb + off, len);
          buf[len - 1] &= lastmask;
          v[r] = _mm256_loadu_si256((const __m256i *)(const void *)buf);
        }
      }
      __m256i t[8], s[8];
      for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
      }
      for (int i = 0; i < 2; i++) {
        s[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        s[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        s[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        s[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
      }
      for (int k = 0; k < 4; k++) {
        __m256i w[2] = {_mm256_permute2x128_si256(s[k], s[4 + k], 0x20),  /* dword k */
                        _mm256_permute2x128_si256(s[k], s[4 + k], 0x31)}; /* dword k + 4 */
        for (int hh = 0; hh < 2; hh++) {
          size_t p = c * 8 + (size_t)k + 4 * (size_t)hh;
          if (p < P)
            _mm256_storeu_si256((__m256i *)(void *)(T + p * ST_RB + h),
                                _mm256_xor_si256(w[hh], bv));
        }
      }
    }
  }
}

/* Prefetches the next block's rows (bytes [0, len) at next) into L2, a share before each query
 * group [j, j + ST_QB): the block is read once and then scored for a long time, so without this
 * every block's transpose waits on memory (it took a quarter of the int8 kernel's time at 200k
 * rows). The last block of a call reaches past the tile into the next call's rows, or past the
 * codes: a prefetch is a hint, which never faults. */
static inline void ST_FN(st_prefetch)(const uint8_t *next, size_t len, size_t nq, size_t j,
                                      size_t *done) {
  size_t groups = (nq + ST_QB - 1) / ST_QB, g = j / ST_QB + 1;
  size_t upto = (len * g / groups + 63) & ~(size_t)63;
  for (; *done < upto; *done += 64) _mm_prefetch((const char *)(next + *done), _MM_HINT_T1);
}

/* Writes the first nr lanes of v (nr <= ST_W) to dst. */
static inline void ST_FN(st_store)(float *dst, ST_VF v, size_t nr) {
  if (nr >= ST_W) {
    ST_STOREF(dst, v);
  } else {
    float out[ST_W];
    ST_STOREF(out, v);
    memcpy(dst, out, nr * sizeof(float));
  }
}

/* ---- int8 and the calibrated 8-bit codes: integer dots of the tile with Q query byte vectors,
 * less corr[a]; then, lane by lane, int8's vec_score_i8_out ((sq * s) * dot, S the rows' scales) or
 * (u8) the calibrated vec_score_u8_out (c0 + sw * dot). ---- */
ST_ATTR_I8 static inline void ST_FN(st_i8_block)(int Q, int u8, const uint8_t *const *qh,
                                                 const int32_t *corr, const uint32_t *T, size_t P,
                                                 const float *S, size_t R, float *const *dst) {
  ST_VI acc[ST_QB][2];
  const uint8_t *qp[ST_QB];
  for (int a = 0; a < Q; a++) {
    acc[a][0] = acc[a][1] = ST_ZERO();
    qp[a] = qh[a] + VEC_SCORE_HDR;
  }
  for (size_t p = 0; p < P; p++) {
    ST_VI x0 = ST_LOAD(T + p * ST_RB), x1 = ST_LOAD(T + p * ST_RB + ST_W);
    ST_VI a0 = ST_I8PREP(x0), a1 = ST_I8PREP(x1);
    for (int a = 0; a < Q; a++) {
      ST_VI qb = ST_SET1(vec_score_hdr_i32(qp[a], 4 * p));
      acc[a][0] = ST_I8DOT(acc[a][0], x0, a0, qb);
      acc[a][1] = ST_I8DOT(acc[a][1], x1, a1, qb);
    }
  }
  for (int a = 0; a < Q; a++) {
    ST_VI cv = ST_SET1(corr[a]);
    ST_VF h0 = ST_SET1F(vec_score_hdr_f32(qh[a])); /* sq, or sw */
    for (int v = 0; v < 2 && (size_t)v * ST_W < R; v++) {
      ST_VF dot = ST_CVT(ST_SUB32(acc[a][v], cv)), f;
      if (u8)
        f = ST_ADDF(ST_SET1F(vec_score_hdr_f32(qh[a] + 4)), ST_MULF(h0, dot));
      else
        f = ST_MULF(ST_MULF(h0, ST_LOADF(S + v * ST_W)), dot);
      ST_FN(st_store)(dst[a] + v * ST_W, f, R - (size_t)v * ST_W);
    }
  }
}

/* Scores the tile T against every query, ST_QB at a time (Q a constant in each call, so the
 * accumulators stay in registers), prefetching the next block meanwhile. corr_of(q header, Q) is
 * each query's correction. */
#define ST_I8_QUERIES(U8, CORR, NEXT, NEXT_LEN)                                                    \
  do {                                                                                             \
    size_t pf = 0;                                                                                 \
    for (size_t j = 0; j < nq; j += ST_QB) {                                                       \
      int Q = nq - j < ST_QB ? (int)(nq - j) : ST_QB;                                              \
      ST_FN(st_prefetch)(NEXT, NEXT_LEN, nq, j, &pf);                                              \
      const uint8_t *qh[ST_QB];                                                                    \
      float *dst[ST_QB];                                                                           \
      int32_t corr[ST_QB];                                                                         \
      for (int a = 0; a < Q; a++) {                                                                \
        qh[a] = qs + (j + (size_t)a) * qstride;                                                    \
        dst[a] = ip + (j + (size_t)a) * ldo + r0;                                                  \
        corr[a] = CORR;                                                                            \
      }                                                                                            \
      switch (Q) {                                                                                 \
      case ST_QB: ST_FN(st_i8_block)(ST_QB, U8, qh, corr, T, P, S, R, dst); break;                 \
      case 1: ST_FN(st_i8_block)(1, U8, qh, corr, T, P, S, R, dst); break;                         \
      case 2: ST_FN(st_i8_block)(2, U8, qh, corr, T, P, S, R, dst); break;                         \
      case 3:                                                                                      \
        ST_FN(st_i8_block)(3, U8, qh, corr, T, P, S, R, dst);                                      \
        break;                                                                                     \
        ST_CASES_4_7(U8)                                                                           \
      default: break;                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)
#if ST_QB > 4
#define ST_CASES_4_7(U8)                                                                           \
  case 4: ST_FN(st_i8_block)(4, U8, qh, corr, T, P, S, R, dst); break;                             \
  case 5: ST_FN(st_i8_block)(5, U8, qh, corr, T, P, S, R, dst); break;                             \
  case 6: ST_FN(st_i8_block)(6, U8, qh, corr, T, P, S, R, dst); break;                             \
  case 7: ST_FN(st_i8_block)(7, U8, qh, corr, T, P, S, R, dst); break;
#else
#define ST_CASES_4_7(U8)
#endif

ST_ATTR_I8 static void ST_FN(vec_score_i8_tile)(const uint8_t *qs, size_t qstride, size_t nq,
                                                const int8_t *codes, const float *scales, size_t nr,
                                                size_t d, float *ip, size_t ldo) {
  size_t P = (d + 3) / 4;
  if (nq < ST_MIN_Q || P > ST_MAX_P) {
    ST_I8_FALLBACK(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
    return;
  }
  uint32_t T[ST_MAX_P * ST_RB] __attribute__((aligned(64)));
  float S[ST_RB] __attribute__((aligned(64)));
  for (size_t r0 = 0; r0 < nr; r0 += ST_RB) {
    size_t R = nr - r0 < ST_RB ? nr - r0 : ST_RB;
    ST_FN(st_pack)((const uint8_t *)codes + r0 * d, d, R, P, 0xff, ST_VNNI ? 0x80 : 0, T);
    for (size_t r = 0; r < ST_RB; r++) S[r] = r < R ? scales[r0 + r] : 0.0f;
    /* vpdpbusd summed (x + 128) q: take 128 sum(q) off, in wrapping int32 (exact: |dot| < 2^31). */
    ST_I8_QUERIES(0, ST_VNNI ? (int32_t)(128u * (uint32_t)vec_score_hdr_i32(qh[a], 4)) : 0,
                  (const uint8_t *)codes + (r0 + ST_RB) * d, ST_RB * d);
  }
}

/* The sum of a calibrated query's int8 weights (d <= 4 * ST_MAX_P: no overflow). */
static inline int32_t ST_FN(st_wsum)(const uint8_t *qh, size_t d) {
  const int8_t *w = (const int8_t *)(qh + VEC_SCORE_HDR);
  int32_t t = 0;
  for (size_t k = 0; k < d; k++) t += w[k];
  return t;
}

/* Calibrated codes: level u = byte ^ flip (unsigned) against the query's int8 weights. VNNI: u is
 * vpdpbusd's unsigned operand as it is. maddubs: s = u ^ 0x80 = u - 128 (signed) through the int8
 * path, and sum u w = sum s w + 128 sum w. */
ST_ATTR_I8 static void ST_FN(vec_score_u8_tile)(const uint8_t *qs, size_t qstride, size_t nq,
                                                const uint8_t *codes, size_t nr, size_t d,
                                                unsigned flip, float *ip, size_t ldo) {
  size_t P = (d + 3) / 4;
  if (nq < ST_MIN_Q || P > ST_MAX_P) {
    ST_U8_FALLBACK(qs, qstride, nq, codes, nr, d, flip, ip, ldo);
    return;
  }
  uint32_t T[ST_MAX_P * ST_RB] __attribute__((aligned(64)));
  const float *S = NULL; /* unused: no per-row scales */
  /* Bytes past d pack as 0 ^ bias, but meet the query's zero padding. */
  uint8_t bias = (uint8_t)(flip ^ (ST_VNNI ? 0u : 0x80u));
  for (size_t r0 = 0; r0 < nr; r0 += ST_RB) {
    size_t R = nr - r0 < ST_RB ? nr - r0 : ST_RB;
    ST_FN(st_pack)(codes + r0 * d, d, R, P, 0xff, bias, T);
    ST_I8_QUERIES(1, ST_VNNI ? 0 : (int32_t)(0u - 128u * (uint32_t)ST_FN(st_wsum)(qh[a], d)),
                  codes + (r0 + ST_RB) * d, ST_RB * d);
  }
}

#undef ST_I8_QUERIES
#undef ST_CASES_4_7

/* ---- binary: ip = mq * (d - 2 * ham), vec_score_b1_out lane by lane (d < 2^30 here). ---- */
ST_ATTR_B1 static inline void ST_FN(st_b1_block)(int Q, const uint8_t *const *qh, const uint32_t *T,
                                                 size_t P, size_t d, size_t R, float *const *dst) {
  ST_VI acc[ST_QB][2];
  const uint8_t *qp[ST_QB];
  for (int a = 0; a < Q; a++) {
    acc[a][0] = acc[a][1] = ST_ZERO();
    qp[a] = qh[a] + VEC_SCORE_HDR;
  }
#if ST_HWPOP
  for (size_t p = 0; p < P; p++) {
    ST_VI x0 = ST_LOAD(T + p * ST_RB), x1 = ST_LOAD(T + p * ST_RB + ST_W);
    for (int a = 0; a < Q; a++) {
      ST_VI qb = ST_SET1(vec_score_hdr_i32(qp[a], 4 * p));
      acc[a][0] = ST_XOR_POPCNT_ADD(acc[a][0], x0, qb);
      acc[a][1] = ST_XOR_POPCNT_ADD(acc[a][1], x1, qb);
    }
  }
#else
  for (size_t p0 = 0; p0 < P; p0 += ST_B1_FLUSH) {
    size_t pe = P - p0 < ST_B1_FLUSH ? P : p0 + ST_B1_FLUSH;
    ST_VI c[ST_QB][2];
    for (int a = 0; a < Q; a++) c[a][0] = c[a][1] = ST_ZERO();
    for (size_t p = p0; p < pe; p++) {
      ST_VI x0 = ST_LOAD(T + p * ST_RB), x1 = ST_LOAD(T + p * ST_RB + ST_W);
      for (int a = 0; a < Q; a++) {
        ST_VI qb = ST_SET1(vec_score_hdr_i32(qp[a], 4 * p));
        c[a][0] = ST_ADD8(c[a][0], ST_POP8(ST_XOR(x0, qb)));
        c[a][1] = ST_ADD8(c[a][1], ST_POP8(ST_XOR(x1, qb)));
      }
    }
    for (int a = 0; a < Q; a++) {
      acc[a][0] = ST_ADD32(acc[a][0], ST_BYTESUM32(c[a][0]));
      acc[a][1] = ST_ADD32(acc[a][1], ST_BYTESUM32(c[a][1]));
    }
  }
#endif
  ST_VI dv = ST_SET1((int32_t)d);
  for (int a = 0; a < Q; a++) {
    ST_VF mq = ST_SET1F(vec_score_hdr_f32(qh[a]));
    ST_FN(st_store)(dst[a], ST_MULF(mq, ST_CVT(ST_SUB32(dv, ST_ADD32(acc[a][0], acc[a][0])))), R);
    if (R > ST_W)
      ST_FN(st_store)(dst[a] + ST_W,
                      ST_MULF(mq, ST_CVT(ST_SUB32(dv, ST_ADD32(acc[a][1], acc[a][1])))), R - ST_W);
  }
}

ST_ATTR_B1 static void ST_FN(vec_score_b1_tile)(const uint8_t *qs, size_t qstride, size_t nq,
                                                const uint8_t *codes, size_t nr, size_t d,
                                                float *ip, size_t ldo) {
  size_t nb = (d + 7) / 8, P = (nb + 3) / 4;
  if (nq < ST_MIN_Q || P > ST_MAX_P) {
    ST_B1_FALLBACK(qs, qstride, nq, codes, nr, d, ip, ldo);
    return;
  }
  uint32_t T[ST_MAX_P * ST_RB] __attribute__((aligned(64)));
  for (size_t r0 = 0; r0 < nr; r0 += ST_RB) {
    size_t R = nr - r0 < ST_RB ? nr - r0 : ST_RB;
    /* The query's pad bits are zero (query_prepare): masking the rows' suffices. */
    ST_FN(st_pack)(codes + r0 * nb, nb, R, P, vec_score_b1_lastmask(d), 0, T);
    size_t pf = 0;
    for (size_t j = 0; j < nq; j += ST_QB) {
      int Q = nq - j < ST_QB ? (int)(nq - j) : ST_QB;
      ST_FN(st_prefetch)(codes + (r0 + ST_RB) * nb, ST_RB * nb, nq, j, &pf);
      const uint8_t *qh[ST_QB];
      float *dst[ST_QB];
      for (int a = 0; a < Q; a++) {
        qh[a] = qs + (j + (size_t)a) * qstride;
        dst[a] = ip + (j + (size_t)a) * ldo + r0;
      }
      switch (Q) {
      case ST_QB: ST_FN(st_b1_block)(ST_QB, qh, T, P, d, R, dst); break;
      case 1: ST_FN(st_b1_block)(1, qh, T, P, d, R, dst); break;
      case 2: ST_FN(st_b1_block)(2, qh, T, P, d, R, dst); break;
      case 3: ST_FN(st_b1_block)(3, qh, T, P, d, R, dst); break;
#if ST_QB > 4
      case 4: ST_FN(st_b1_block)(4, qh, T, P, d, R, dst); break;
      case 5: ST_FN(st_b1_block)(5, qh, T, P, d, R, dst); break;
      case 6: ST_FN(st_b1_block)(6, qh, T, P, d, R, dst); break;
      case 7: ST_FN(st_b1_block)(7, qh, T, P, d, R, dst); break;
#endif
      default: break;
      }
    }
  }
}

#undef ST_RB
