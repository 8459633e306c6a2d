/* search_wide_tmpl.h: batched f16, bf16 and int16 scoring on a tile of rows widened to float32 and
 * transposed once per call, written once over x86_vec.h and compiled for AVX2 (VEC_W = 8,
 * search_wide_avx2.c) and AVX-512 (VEC_W = 16, search_wide_avx512.c).
 *
 * Why: the row-order kernels (score_avx2.c / score_avx512.c, h_block) keep one accumulator per
 * (row, query) pair whose lanes hold different dims, so every pair pays a horizontal sum at the
 * end of its row and every row vector is widened again for each block of 3-4 queries. Here a tile
 * of 16 rows is widened once per call (64 queries) into a plane where lane r of a vector holds row
 * r; one broadcast query element (an embedded-broadcast memory operand on AVX-512) feeds W rows per
 * FMA, so the inner loop is FMAs and plane loads only. (On Zen 4 the row-order kernel is no slower
 * in L2, its sums run beside the FMAs; the gain is out of cache and on AVX2: BENCHMARKS.md.)
 *
 * Bits: the row-order kernel sums a pair as W lane chains (lane l: the FMAs q_j * x_j of the dims
 * j = l (mod W) in order, the tail's missing dims as +0 * +0) added in a fixed tree (AVX-512: the
 * chains l and l + 8 first). Here chain l of W pairs at once runs over the plane's dims l, l + W,
 * ... in that order and the chain sums go through the same tree, lane-wise, so every result is the
 * row-order kernel's bit for bit: a row scores the same whatever nq, tile or thread
 * (score_kernels.h), and either kernel may serve any call (SW_*_ROWS take few queries and d past
 * the plane). The plane stores chain l's dims contiguously, so each chain streams through it.
 *
 * The includer defines VEC_W, VEC_ISA_SUFFIX, SW_QB (queries a register block) and SW_F16_ROWS /
 * SW_BF16_ROWS / SW_I16_ROWS (the row-order kernels). */
#include <string.h>

#include "score_kernels.h"
#include "x86_vec.h"

#define SW_FN(name) VEC_SFX(name)
/* The register blocks' loops must unroll completely (the accumulators then live in registers):
 * GCC at -O2 leaves them rolled, with the accumulators in memory (21 against 50 GMAC/s). */
#define SW_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define SW_UNROLL SW_PRAGMA(clang loop unroll(full))
#else
#define SW_UNROLL SW_PRAGMA(GCC unroll 16)
#endif

#if VEC_W == 16
#define SW_NC 2 /* chains run at once: l and l + 8 */
#define SW_NV 1 /* row vectors a tile: 16 rows, a plane of 24 KiB at d = 384, in L1 */
#else
#define SW_NC 1
#define SW_NV 2
#endif
#define SW_TR    (SW_NV * VEC_W) /* rows a tile */
#define SW_MAX_D (16384 / SW_TR) /* dims the plane holds: 64 KiB of stack */
#define SW_MIN_Q 8 /* fewer queries a call: the row-order kernels (the plane would not pay) */

enum { SW_F16 = 0, SW_BF16 = 1, SW_I16 = 2 };

#if VEC_W == 16
typedef __m256i sw_half; /* W codes */
VX_INLINE sw_half sw_load_codes(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
/* The row-order kernels' widening (h16 in score_avx512.c), so the floats are the same. */
VX_INLINE vf sw_widen(sw_half c, int kind) {
  if (kind == SW_BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(c), 16));
  if (kind == SW_I16) return _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(c));
  return _mm512_cvtph_ps(c);
}
VX_INLINE vf sw_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* *q (broadcast) * x + acc, the broadcast folded into the FMA as a memory operand ({1to16}): GCC
 * loads it once into a register for two FMAs instead, one more instruction a query. */
VX_INLINE vf sw_fma_b(const float *q, vf x, vf acc) {
#if defined(__GNUC__) && !defined(__clang__)
  /* As bytes: a prepared query may sit at any address. */
  const unsigned char (*qb)[4] = (const unsigned char (*)[4])(const void *)q;
  __asm__("vfmadd231ps %[q]%{1to16%}, %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [q] "m"(*qb));
  return acc;
#else
  float v;
  memcpy(&v, q, sizeof v);
  return _mm512_fmadd_ps(_mm512_set1_ps(v), x, acc);
#endif
}
/* r[i] (row i, dims 0..15) -> r[k] (dim k, rows 0..15). */
VX_INLINE void sw_transpose(vf *r) {
  __m512 t[16], u[16];
  SW_UNROLL
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  /* u[4i + k], 128-bit lane c: rows 4i..4i+3 at dim 4c + k */
  SW_UNROLL
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), e = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
  }
  SW_UNROLL
  for (int k = 0; k < 4; k++) {
    __m512 a0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88),
           a1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd);
    __m512 b0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    __m512 b1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
    r[k] = _mm512_shuffle_f32x4(a0, b0, 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(a0, b0, 0xdd);
    r[4 + k] = _mm512_shuffle_f32x4(a1, b1, 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(a1, b1, 0xdd);
  }
}
#else
typedef __m128i sw_half;
VX_INLINE sw_half sw_load_codes(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
/* The row-order kernels' widening (h8 in score_avx2.c). */
VX_INLINE vf sw_widen(sw_half c, int kind) {
  if (kind == SW_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(c), 16));
  if (kind == SW_I16) return _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(c));
  return _mm256_cvtph_ps(c);
}
VX_INLINE vf sw_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
/* Prepared queries may sit at any address: the element goes through memcpy (still one broadcast
 * load). */
VX_INLINE vf sw_fma_b(const float *q, vf x, vf acc) {
  float v;
  memcpy(&v, q, sizeof v);
  return _mm256_fmadd_ps(_mm256_set1_ps(v), x, acc);
}
VX_INLINE void sw_transpose(vf *r) {
  __m256 t[8], s[8];
  SW_UNROLL
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  SW_UNROLL
  for (int i = 0; i < 2; i++) {
    s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  SW_UNROLL
  for (int k = 0; k < 4; k++) {
    r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
  }
}
#endif

/* W rows of W codes (row i at p + i * stride) widened and transposed: dim l of the W rows to
 * dst + l * dstride. Straight-line code, so the W vectors stay in registers. */
VX_INLINE void sw_pack_block(const uint8_t *p, size_t stride, int kind, float *dst,
                             size_t dstride) {
  vf r[VEC_W];
#pragma GCC unroll 16
  for (size_t i = 0; i < VEC_W; i++) r[i] = sw_widen(sw_load_codes(p + i * stride), kind);
  sw_transpose(r);
#pragma GCC unroll 16
  for (size_t l = 0; l < VEC_W; l++) vf_storeu(dst + l * dstride, r[l]);
}

/* Rows [0, R) of the tile (R <= SW_TR; the rest zeros) widened into the plane: dim j = l + W t of
 * row r at T[(l * nt + t) * SW_TR + r], zeros past d (as the row-order kernels' zero-filled tail).
 * Blocks that reach past the rows or the dims go through a zero-filled copy. */
VX_INLINE void SW_FN(sw_pack)(const uint8_t *x, size_t d, size_t R, size_t nt, int kind, float *T) {
  size_t dstride = nt * SW_TR;
  for (size_t v = 0; v * VEC_W < SW_TR; v++) {
    size_t rows = R > v * VEC_W ? R - v * VEC_W : 0;
    if (rows > VEC_W) rows = VEC_W;
    const uint8_t *xv = x + v * VEC_W * 2 * d;
    for (size_t t = 0; t < nt; t++) {
      size_t j = t * VEC_W, len = d - j < VEC_W ? d - j : VEC_W;
      float *dst = T + t * SW_TR + v * VEC_W;
      if (rows == VEC_W && len == VEC_W) {
        sw_pack_block(xv + 2 * j, 2 * d, kind, dst, dstride);
      } else {
        uint8_t buf[VEC_W][2 * VEC_W];
        memset(buf, 0, sizeof buf);
        for (size_t i = 0; i < rows; i++) memcpy(buf[i], xv + i * 2 * d + 2 * j, 2 * len);
        sw_pack_block(buf[0], 2 * VEC_W, kind, dst, dstride);
      }
    }
  }
}

/* Q queries (qp[a]: the query's floats, zero-padded past d) x the tile: dst[a][r] for r < R, times
 * S[r] (int16's row scales) when S is not NULL. SW_NC == 2 (AVX-512): chains l and l + 8 run
 * together on one row vector and are added at once, the tree's first level, so each pair of chains
 * stores one vector (storing each chain and adding l + 8 later took a tenth of the time at 1M
 * rows); SW_NC == 1 (AVX2, 8 chains): one chain on two row vectors. */
VX_INLINE void SW_FN(sw_block)(int Q, const float *const *qp, const float *T, size_t nt,
                               const float *S, size_t R, float *const *dst, const char *pf,
                               size_t pf_len) {
  vf h[8][SW_QB][SW_NV];
  for (size_t l = 0; l < VEC_W / SW_NC; l++) {
    vf acc[SW_QB][2];
    SW_UNROLL
    for (int a = 0; a < Q; a++) acc[a][0] = acc[a][1] = vf_zero();
    /* This block's share of the next tile, a few lines a chain: in bursts (all before the block)
     * they filled the miss queue and the widening still waited on memory. */
    size_t nl = VEC_W / SW_NC;
    for (size_t o = (pf_len * l / nl) & ~(size_t)63; o < pf_len * (l + 1) / nl; o += 64)
      _mm_prefetch(pf + o, _MM_HINT_T1);
#if SW_NC == 2
    const float *P0 = T + l * nt * SW_TR, *P1 = T + (l + 8) * nt * SW_TR;
    for (size_t t = 0; t < nt; t++) {
      vf x0 = vf_loadu(P0 + t * SW_TR), x1 = vf_loadu(P1 + t * SW_TR);
      size_t j = l + t * VEC_W;
      SW_UNROLL
      for (int a = 0; a < Q; a++) {
        acc[a][0] = sw_fma_b(qp[a] + j, x0, acc[a][0]);
        acc[a][1] = sw_fma_b(qp[a] + j + 8, x1, acc[a][1]);
      }
    }
    SW_UNROLL
    for (int a = 0; a < Q; a++) h[l][a][0] = vf_add(acc[a][0], acc[a][1]);
#else
    const float *P = T + l * nt * SW_TR;
    for (size_t t = 0; t < nt; t++) {
      vf x0 = vf_loadu(P + t * SW_TR), x1 = vf_loadu(P + t * SW_TR + VEC_W);
      size_t j = l + t * VEC_W;
      SW_UNROLL
      for (int a = 0; a < Q; a++) {
        acc[a][0] = sw_fma_b(qp[a] + j, x0, acc[a][0]);
        acc[a][1] = sw_fma_b(qp[a] + j, x1, acc[a][1]);
      }
    }
    SW_UNROLL
    for (int a = 0; a < Q; a++) {
      h[l][a][0] = acc[a][0];
      h[l][a][1] = acc[a][1];
    }
#endif
  }
  SW_UNROLL
  for (int a = 0; a < Q; a++)
    for (size_t v = 0; v < SW_NV && v * VEC_W < R; v++) {
      vf s = vf_add(vf_add(vf_add(h[0][a][v], h[1][a][v]), vf_add(h[2][a][v], h[3][a][v])),
                    vf_add(vf_add(h[4][a][v], h[5][a][v]), vf_add(h[6][a][v], h[7][a][v])));
      if (S) s = vf_mul(vf_loadu(S + v * VEC_W), s);
      size_t n = R - v * VEC_W;
      if (n >= VEC_W) {
        vf_storeu(dst[a] + v * VEC_W, s);
      } else {
        float out[VEC_W];
        vf_storeu(out, s);
        memcpy(dst[a] + v * VEC_W, out, n * sizeof(float));
      }
    }
}

static void SW_FN(sw_score)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            const float *scales, size_t nr, size_t d, float *ip, size_t ldo,
                            int kind) {
  size_t nt = (d + VEC_W - 1) / VEC_W;
  float T[SW_MAX_D * SW_TR] __attribute__((aligned(64)));
  float S[SW_TR] __attribute__((aligned(64)));
  for (size_t r0 = 0; r0 < nr; r0 += SW_TR) {
    size_t R = nr - r0 < SW_TR ? nr - r0 : SW_TR;
    SW_FN(sw_pack)(codes + r0 * 2 * d, d, R, nt, kind, T);
    if (scales)
      for (size_t r = 0; r < SW_TR; r++) S[r] = r < R ? scales[r0 + r] : 0.0f;
    /* The next tile's rows into L2 while this one is scored, a share in each query block: the
     * tile is read once and then scored for a long time, so its widening would otherwise wait on
     * memory. Past the codes' end only as a hint, which never faults. */
    const char *next = (const char *)(codes + (r0 + SW_TR) * 2 * d);
    size_t len = SW_TR * 2 * d, blocks = (nq + SW_QB - 1) / SW_QB;
    for (size_t j = 0; j < nq; j += SW_QB) {
      size_t b = j / SW_QB, from = len * b / blocks, to = len * (b + 1) / blocks;
      int Q = nq - j < SW_QB ? (int)(nq - j) : SW_QB;
      const float *qp[SW_QB];
      float *dst[SW_QB];
      for (int a = 0; a < Q; a++) {
        qp[a] = (const float *)(const void *)(qs + (j + (size_t)a) * qstride + VEC_SCORE_HDR);
        dst[a] = ip + (j + (size_t)a) * ldo + r0;
      }
      const float *sv = scales ? S : NULL;
      /* Q a constant in each call, so the accumulators stay in registers. */
      switch (Q) {
      case SW_QB: SW_FN(sw_block)(SW_QB, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 1: SW_FN(sw_block)(1, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 2: SW_FN(sw_block)(2, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 3: SW_FN(sw_block)(3, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 4: SW_FN(sw_block)(4, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 5: SW_FN(sw_block)(5, qp, T, nt, sv, R, dst, next + from, to - from); break;
#if SW_QB > 6
      case 6: SW_FN(sw_block)(6, qp, T, nt, sv, R, dst, next + from, to - from); break;
      case 7: SW_FN(sw_block)(7, qp, T, nt, sv, R, dst, next + from, to - from); break;
#endif
      default: break;
      }
    }
  }
}

void SW_FN(vec_score_f16_tile_)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < SW_MIN_Q || d > SW_MAX_D)
    SW_F16_ROWS(qs, qstride, nq, codes, nr, d, ip, ldo);
  else
    SW_FN(sw_score)(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, SW_F16);
}

void SW_FN(vec_score_bf16_tile_)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                 size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < SW_MIN_Q || d > SW_MAX_D)
    SW_BF16_ROWS(qs, qstride, nq, codes, nr, d, ip, ldo);
  else
    SW_FN(sw_score)(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, SW_BF16);
}

void SW_FN(vec_score_i16_tile_)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < SW_MIN_Q || d > SW_MAX_D)
    SW_I16_ROWS(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
  else
    SW_FN(sw_score)(qs, qstride, nq, codes, scales, nr, d, ip, ldo, SW_I16);
}
