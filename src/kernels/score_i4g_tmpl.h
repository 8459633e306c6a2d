/* score_i4g_tmpl.h: the int4 scoring kernel for rows with groups of dims (the `balanced` int4-g32)
 * and for one scale a row, written once for x86 vectors of I4G_W 32-bit lanes. The includer
 * defines I4G_W (8: AVX2, 16: AVX-512), I4G_FN(name), I4G_ATTR (target attributes), the vector
 * macros below and I4G_VNNI (1: vpdpbusd, 0: maddubs pairs summed in int16, then madd).
 *
 * A tile of I4G_W rows is transposed once per call (so once per batch of queries): lane r of
 * vector p holds row r's code bytes 4p..4p+3, split into a plane of low nibbles and one of high
 * nibbles, each biased to unsigned (u = nibble ^ 8 = value + 8). One broadcast dword of the query
 * (its even or odd elements, score_kernels.h) then feeds every row at once, each lane accumulating
 * its own row's integer dot with no horizontal sums; sum q (u - 8) = sum q u - 8 sum q, the second
 * term stored per group by query_prepare. Integer dots are exact, and the float epilogue is the
 * scalar one lane by lane (acc = s_0 dot_0, acc + s_g dot_g, then sq acc; no FMA), so results are
 * bit-identical to vec_score_i4_scalar. maddubs never saturates: u <= 15, |q| <= 127, and 4
 * positions x 2 planes x 2 products = 16 terms of at most 1905 stay under 32767 before the madd. */

#ifndef I4G_MAX_P
/* Dword positions a row (d <= 4096): the tile lives on the stack, 80 KB with 16 lanes. */
#define I4G_MAX_P  512
#define I4G_MAX_NG 256 /* groups a row */
#define I4G_QB     4   /* queries a register block */
#endif

/* 8 rows' 32 code bytes at once (rows past nr are zero), transposed so that output k holds dword
 * k of rows 0..7, then split into the two biased nibble planes: lo[p * I4G_W + r], hi likewise. */
I4G_ATTR static inline void I4G_FN(i4g_pack8)(const uint8_t *codes, size_t nb, size_t nr, size_t P,
                                              uint32_t *lo, uint32_t *hi) {
  const __m256i m = _mm256_set1_epi8(0x0f), e = _mm256_set1_epi8(8);
  for (size_t c = 0; c * 8 < P; c++) {
    __m256i v[8];
    size_t off = c * 32, len = nb - off < 32 ? nb - off : 32;
    for (size_t r = 0; r < 8; r++) {
      if (r >= nr) {
        v[r] = _mm256_setzero_si256();
      } else if (len == 32) {
        v[r] = _mm256_loadu_si256((const __m256i *)(codes + r * nb + off));
      } else {
        uint8_t buf[32] = {0};
        memcpy(buf, codes + r * nb + off, len);
        v[r] = _mm256_loadu_si256((const __m256i *)buf);
      }
    }
    /* The usual 8 x 8 dword transpose: 32-bit, then 64-bit interleaves, then 128-bit halves. */
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
      __m256i a = _mm256_permute2x128_si256(s[k], s[4 + k], 0x20); /* dword k */
      __m256i b = _mm256_permute2x128_si256(s[k], s[4 + k], 0x31); /* dword k + 4 */
      __m256i w[2] = {a, b};
      for (int h = 0; h < 2; h++) {
        size_t p = c * 8 + (size_t)k + 4 * (size_t)h;
        if (p >= P) continue;
        __m256i l = _mm256_xor_si256(_mm256_and_si256(w[h], m), e);
        __m256i u = _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(w[h], 4), m), e);
        _mm256_storeu_si256((__m256i *)(lo + p * I4G_W), l);
        _mm256_storeu_si256((__m256i *)(hi + p * I4G_W), u);
      }
    }
  }
}

/* Integer dots of one group, positions [p0, p1), for Q queries: acc[a] (int32 per row lane). */
I4G_ATTR static inline void I4G_FN(i4g_group)(int Q, const uint32_t *lo, const uint32_t *hi,
                                              size_t p0, size_t p1, const int8_t *const *qe,
                                              const int8_t *const *qo, I4G_VI *acc) {
#if I4G_VNNI
  for (size_t p = p0; p < p1; p++) {
    I4G_VI l = I4G_LOAD(lo + p * I4G_W), h = I4G_LOAD(hi + p * I4G_W);
    for (int a = 0; a < Q; a++) {
      acc[a] = I4G_DPBUSD(acc[a], l, I4G_SET1(vec_score_hdr_i32((const uint8_t *)qe[a], 4 * p)));
      acc[a] = I4G_DPBUSD(acc[a], h, I4G_SET1(vec_score_hdr_i32((const uint8_t *)qo[a], 4 * p)));
    }
  }
#else
  for (size_t p = p0; p < p1; p += 4) {
    size_t pe = p1 - p < 4 ? p1 : p + 4;
    I4G_VI s[I4G_QB];
    for (int a = 0; a < Q; a++) s[a] = I4G_ZERO();
    for (size_t pp = p; pp < pe; pp++) {
      I4G_VI l = I4G_LOAD(lo + pp * I4G_W), h = I4G_LOAD(hi + pp * I4G_W);
      for (int a = 0; a < Q; a++) {
        I4G_VI x = I4G_MADDUBS(l, I4G_SET1(vec_score_hdr_i32((const uint8_t *)qe[a], 4 * pp)));
        I4G_VI y = I4G_MADDUBS(h, I4G_SET1(vec_score_hdr_i32((const uint8_t *)qo[a], 4 * pp)));
        s[a] = I4G_ADD16(s[a], I4G_ADD16(x, y));
      }
    }
    for (int a = 0; a < Q; a++) acc[a] = I4G_ADD32(acc[a], I4G_MADD1(s[a]));
  }
#endif
}

/* Q queries against one transposed tile; results for the first nr lanes. */
I4G_ATTR static inline void I4G_FN(i4g_block)(int Q, const uint8_t *const *qh, size_t half,
                                              size_t corr_off, const uint32_t *lo,
                                              const uint32_t *hi, const float *S, size_t P,
                                              size_t g, size_t ng, size_t nr, float *const *dst) {
  const int8_t *qe[I4G_QB], *qo[I4G_QB];
  I4G_VF f[I4G_QB];
  for (int a = 0; a < Q; a++) {
    qe[a] = (const int8_t *)(qh[a] + VEC_SCORE_HDR);
    qo[a] = qe[a] + half;
    f[a] = I4G_ZEROF();
  }
  for (size_t gi = 0; gi < ng; gi++) {
    size_t p0 = gi * (g / 8), p1 = gi + 1 == ng ? P : (gi + 1) * (g / 8);
    I4G_VI acc[I4G_QB];
    for (int a = 0; a < Q; a++) acc[a] = I4G_ZERO();
    I4G_FN(i4g_group)(Q, lo, hi, p0, p1, qe, qo, acc);
    I4G_VF s = I4G_LOADF(S + gi * I4G_W);
    for (int a = 0; a < Q; a++) {
      I4G_VI dot = I4G_SUB32(acc[a], I4G_SET1(vec_score_hdr_i32(qh[a], corr_off + 4 * gi)));
      I4G_VF t = I4G_MULF(s, I4G_CVT(dot));
      f[a] = gi == 0 ? t : I4G_ADDF(f[a], t);
    }
  }
  for (int a = 0; a < Q; a++) {
    float out[I4G_W];
    I4G_STOREF(out, I4G_MULF(I4G_SET1F(vec_score_hdr_f32(qh[a])), f[a]));
    memcpy(dst[a], out, nr * sizeof(float));
  }
}

/* The kernel: any g with g % 8 == 0 (groups start on dword boundaries), or one group a row; d at
 * most 8 * I4G_MAX_P and at most I4G_MAX_NG groups (vec_score_i4g_fits), else the scalar one. */
I4G_ATTR static void I4G_FN(score_i4g)(const uint8_t *qs, size_t qstride, size_t nq,
                                       const uint8_t *codes, const float *scales, size_t nr,
                                       size_t d, size_t g, float *ip, size_t ldo) {
  if (!vec_score_i4g_fits(d, g)) {
    vec_score_i4_scalar(qs, qstride, nq, codes, scales, nr, d, g, ip, ldo);
    return;
  }
  size_t nb = (d + 1) / 2, ng = (d + g - 1) / g, P = (nb + 3) / 4;
  size_t half = vec_score_pad64(nb), corr_off = vec_score_i4_corr_off(d);
  uint32_t lo[I4G_MAX_P * I4G_W] __attribute__((aligned(64)));
  uint32_t hi[I4G_MAX_P * I4G_W] __attribute__((aligned(64)));
  float S[I4G_MAX_NG * I4G_W] __attribute__((aligned(64)));
  for (size_t r0 = 0; r0 < nr; r0 += I4G_W) {
    size_t R = nr - r0 < I4G_W ? nr - r0 : I4G_W;
    const uint8_t *x = codes + r0 * nb;
    /* The next tile, one tile ahead: few queries a call wait on memory, not on the kernel. */
    if (nq < I4G_QB && r0 + I4G_W < nr)
      for (size_t o = 0; o < (nr - r0 - I4G_W < I4G_W ? nr - r0 - I4G_W : I4G_W) * nb; o += 64)
        _mm_prefetch((const char *)(x + I4G_W * nb + o), _MM_HINT_T0);
    for (size_t h = 0; h < I4G_W; h += 8) {
      size_t rr = R > h ? R - h : 0;
      I4G_FN(i4g_pack8)(x + h * nb, nb, rr < 8 ? rr : 8, P, lo + h, hi + h);
    }
    for (size_t gi = 0; gi < ng; gi++)
      for (size_t r = 0; r < I4G_W; r++) S[gi * I4G_W + r] = r < R ? scales[(r0 + r) * ng + gi] : 0;
    /* Many queries: the next tile into L2, a share before each query block (the tile is then
     * scored for a long time, and its transpose would otherwise wait on memory). A prefetch past
     * the codes is a hint, which never faults. */
    size_t pf = 0, pf_len = nq >= I4G_QB ? I4G_W * nb : 0, blocks = (nq + I4G_QB - 1) / I4G_QB;
    for (size_t j = 0; j < nq; j += I4G_QB) {
      int Q = nq - j < I4G_QB ? (int)(nq - j) : I4G_QB;
      for (size_t upto = (pf_len * (j / I4G_QB + 1) / blocks + 63) & ~(size_t)63; pf < upto;
           pf += 64)
        _mm_prefetch((const char *)(x + I4G_W * nb + pf), _MM_HINT_T1);
      const uint8_t *qh[I4G_QB];
      float *dst[I4G_QB];
      for (int a = 0; a < Q; a++) {
        qh[a] = qs + (j + (size_t)a) * qstride;
        dst[a] = ip + (j + (size_t)a) * ldo + r0;
      }
      switch (Q) {
      case 4: I4G_FN(i4g_block)(4, qh, half, corr_off, lo, hi, S, P, g, ng, R, dst); break;
      case 3: I4G_FN(i4g_block)(3, qh, half, corr_off, lo, hi, S, P, g, ng, R, dst); break;
      case 2: I4G_FN(i4g_block)(2, qh, half, corr_off, lo, hi, S, P, g, ng, R, dst); break;
      default: I4G_FN(i4g_block)(1, qh, half, corr_off, lo, hi, S, P, g, ng, R, dst); break;
      }
    }
  }
}
