/* search_wide_neon.c: batched f16 / bf16 / int16 scoring for AArch64 NEON on a widened, transposed
 * tile, as search_wide_tmpl.h does for x86 (read its header for the why). A tile of 8 rows is
 * widened once per call (f16 by vcvt_f32_f16, baseline on AArch64; bf16 by a shift; int16 by
 * vmovl + vcvtq) into a plane where lane r of a vector holds row r; a broadcast query element feeds
 * 4 rows per FMA, 8 queries x 2 row vectors a register block.
 *
 * Bits: the row-order kernel (score_neon.c, h_row) sums a pair as 16 chains (chain m: the dims
 * j = m (mod 16) in order, the tail's missing dims as +0 * +0), chain m in lane m % 4 of
 * accumulator m / 4, then s_i = (p_i + p_{4+i}) + (p_{8+i} + p_{12+i}), (s_0 + s_2) + (s_1 + s_3).
 * Here the same chains run for 4 rows at once and go through the same tree lane-wise: the results
 * are the row-order kernel's bit for bit, whatever nq (which still takes nq < 8 and long rows). */
#include <arm_neon.h>
#include <string.h>

#include "score_kernels.h"
#include "search_wide_kernels.h"

#define NW_TR     8               /* rows a tile: two row vectors */
#define NW_QB     8               /* queries a register block */
#define NW_MAX_D  (16384 / NW_TR) /* dims the plane holds: 64 KiB of stack */
#define NW_MIN_Q  8               /* fewer queries a call: the row-order kernel */
#define NW_INLINE static inline __attribute__((always_inline))
/* The register blocks' loops must unroll completely (GCC at -O2 leaves them rolled). */
#define NW_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define NW_UNROLL NW_PRAGMA(clang loop unroll(full))
#else
#define NW_UNROLL NW_PRAGMA(GCC unroll 16)
#endif

/* kind: 0 f16, 1 bf16, 2 int16; the row-order kernel's widening (h4 in score_neon.c). */
NW_INLINE float32x4_t nw_widen(uint16x4_t c, int kind) {
  if (kind == 2) return vcvtq_f32_s32(vmovl_s16(vreinterpret_s16_u16(c)));
  if (kind == 1) return vreinterpretq_f32_u32(vshll_n_u16(c, 16));
  return vcvt_f32_f16(vreinterpret_f16_u16(c));
}

/* 4 rows of 4 codes (row i at p + i * stride) widened and transposed: dim l to dst[l]. */
NW_INLINE void nw_pack4(const uint8_t *p, size_t stride, int kind, float *const *dst) {
  float32x4_t r0 = nw_widen(vreinterpret_u16_u8(vld1_u8(p)), kind);
  float32x4_t r1 = nw_widen(vreinterpret_u16_u8(vld1_u8(p + stride)), kind);
  float32x4_t r2 = nw_widen(vreinterpret_u16_u8(vld1_u8(p + 2 * stride)), kind);
  float32x4_t r3 = nw_widen(vreinterpret_u16_u8(vld1_u8(p + 3 * stride)), kind);
  float32x4x2_t a = vtrnq_f32(r0, r1), b = vtrnq_f32(r2, r3);
  vst1q_f32(dst[0], vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0])));
  vst1q_f32(dst[1], vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1])));
  vst1q_f32(dst[2], vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0])));
  vst1q_f32(dst[3], vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1])));
}

/* Rows [0, R) of the tile (the rest zeros) into the plane: dim j = m + 16 t of row r at
 * T[(m * nt + t) * NW_TR + r], zeros past d. Blocks past the rows or dims go through a zeroed copy.
 */
static void nw_pack(const uint8_t *x, size_t d, size_t R, size_t nt, int kind, float *T) {
  for (size_t v = 0; v < NW_TR / 4; v++) {
    size_t rows = R > 4 * v ? R - 4 * v : 0;
    if (rows > 4) rows = 4;
    const uint8_t *xv = x + 4 * v * 2 * d;
    for (size_t j = 0; j < 16 * nt; j += 4) {
      size_t len = j < d ? (d - j < 4 ? d - j : 4) : 0, m = j % 16, t = j / 16;
      float *dst[4];
      for (size_t l = 0; l < 4; l++) dst[l] = T + ((m + l) * nt + t) * NW_TR + 4 * v;
      if (rows == 4 && len == 4) {
        nw_pack4(xv + 2 * j, 2 * d, kind, dst);
      } else {
        uint8_t buf[4][8];
        memset(buf, 0, sizeof buf);
        for (size_t i = 0; i < rows; i++) memcpy(buf[i], xv + i * 2 * d + 2 * j, 2 * len);
        nw_pack4(buf[0], 8, kind, dst);
      }
    }
  }
}

/* Q queries x the tile: dst[a][r] for r < R, times S[r] when S is not NULL. */
NW_INLINE void nw_block(int Q, const float *const *qp, const float *T, size_t nt, const float *S,
                        size_t R, float *const *dst) {
  float32x4_t p[16][NW_QB][2];
  for (size_t m = 0; m < 16; m++) {
    float32x4_t acc[NW_QB][2];
    NW_UNROLL
    for (int a = 0; a < Q; a++) acc[a][0] = acc[a][1] = vdupq_n_f32(0.0f);
    const float *P = T + m * nt * NW_TR;
    for (size_t t = 0; t < nt; t++) {
      float32x4_t x0 = vld1q_f32(P + t * NW_TR), x1 = vld1q_f32(P + t * NW_TR + 4);
      size_t j = m + 16 * t;
      NW_UNROLL
      for (int a = 0; a < Q; a++) {
        float32x4_t b = vld1q_dup_f32(qp[a] + j);
        acc[a][0] = vfmaq_f32(acc[a][0], b, x0);
        acc[a][1] = vfmaq_f32(acc[a][1], b, x1);
      }
    }
    NW_UNROLL
    for (int a = 0; a < Q; a++) p[m][a][0] = acc[a][0], p[m][a][1] = acc[a][1];
  }
  NW_UNROLL
  for (int a = 0; a < Q; a++)
    for (size_t v = 0; v < 2 && 4 * v < R; v++) {
      float32x4_t s[4];
      for (int i = 0; i < 4; i++)
        s[i] = vaddq_f32(vaddq_f32(p[i][a][v], p[4 + i][a][v]),
                         vaddq_f32(p[8 + i][a][v], p[12 + i][a][v]));
      float32x4_t tot = vaddq_f32(vaddq_f32(s[0], s[2]), vaddq_f32(s[1], s[3]));
      if (S) tot = vmulq_f32(vld1q_f32(S + 4 * v), tot);
      size_t n = R - 4 * v;
      if (n >= 4) {
        vst1q_f32(dst[a] + 4 * v, tot);
      } else {
        float out[4];
        vst1q_f32(out, tot);
        memcpy(dst[a] + 4 * v, out, n * sizeof(float));
      }
    }
}

static void nw_score(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, size_t d, float *ip, size_t ldo, int kind) {
  size_t nt = (d + 15) / 16;
  float T[NW_MAX_D * NW_TR] __attribute__((aligned(64)));
  float S[NW_TR];
  for (size_t r0 = 0; r0 < nr; r0 += NW_TR) {
    size_t R = nr - r0 < NW_TR ? nr - r0 : NW_TR;
    nw_pack(codes + r0 * 2 * d, d, R, nt, kind, T);
    if (scales)
      for (size_t r = 0; r < NW_TR; r++) S[r] = r < R ? scales[r0 + r] : 0.0f;
    for (size_t j = 0; j < nq; j += NW_QB) {
      int Q = nq - j < NW_QB ? (int)(nq - j) : NW_QB;
      const float *qp[NW_QB];
      float *dst[NW_QB];
      for (int a = 0; a < Q; a++) {
        qp[a] = (const float *)(const void *)(qs + (j + (size_t)a) * qstride + VEC_SCORE_HDR);
        dst[a] = ip + (j + (size_t)a) * ldo + r0;
      }
      const float *sv = scales ? S : NULL;
      /* Q a constant in each call, so the accumulators stay in registers. */
      switch (Q) {
      case NW_QB: nw_block(NW_QB, qp, T, nt, sv, R, dst); break;
      case 1: nw_block(1, qp, T, nt, sv, R, dst); break;
      case 2: nw_block(2, qp, T, nt, sv, R, dst); break;
      case 3: nw_block(3, qp, T, nt, sv, R, dst); break;
      case 4: nw_block(4, qp, T, nt, sv, R, dst); break;
      case 5: nw_block(5, qp, T, nt, sv, R, dst); break;
      case 6: nw_block(6, qp, T, nt, sv, R, dst); break;
      case 7: nw_block(7, qp, T, nt, sv, R, dst); break;
      default: break;
      }
    }
  }
}

void vec_score_f16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < NW_MIN_Q || d > NW_MAX_D)
    vec_score_table_neon.f16(qs, qstride, nq, codes, nr, d, ip, ldo);
  else
    nw_score(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, 0);
}

void vec_score_bf16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                              size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < NW_MIN_Q || d > NW_MAX_D)
    vec_score_table_neon.bf16(qs, qstride, nq, codes, nr, d, ip, ldo);
  else
    nw_score(qs, qstride, nq, codes, NULL, nr, d, ip, ldo, 1);
}

void vec_score_i16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  if (nq < NW_MIN_Q || d > NW_MAX_D)
    vec_score_table_neon.i16(qs, qstride, nq, codes, scales, nr, d, ip, ldo);
  else
    nw_score(qs, qstride, nq, codes, scales, nr, d, ip, ldo, 2);
}
