/* score_kernels.h: search scoring straight from codes (no decode pass): prepared-query layouts,
 * the per-ISA kernel tables, and the exact epilogues every variant shares. */
#ifndef VEC_SCORE_KERNELS_H
#define VEC_SCORE_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/internal.h"

/* Prepared queries (the bytes query_prepare writes). Every layout starts with a 64-byte header
 * and pads its payload with zeros to a multiple of 64 bytes, so a kernel may read whole vectors
 * of the query past d; the zeros contribute exactly nothing.
 *
 * int8:   header float sq (the query's scale, max|q|/127), int32 qsum (sum of the codes, for the
 *         VNNI bias correction); payload: d int8 codes.
 * binary: header float mq (mean |q|); payload: ceil(d/8) bytes, packed like the codes.
 * f16/bf16: header unused; payload: d floats (the query as given).
 * int4:   header float sq; payload: the int8 query codes of the even elements (pad64(ceil(d/2))
 *         bytes), then those of the odd elements, matching the low and high nibbles of a code
 *         byte, so kernels never interleave; then pad64(d) bytes of scratch; then, at
 *         vec_score_i4_corr_off(d), one int32 a group: 8 * (sum of the group's query codes), the
 *         bias that kernels working on unsigned nibbles (nibble ^ 8 = value + 8) take off.
 * uint8-cal / int8-cal: header float sw, float c0; payload: int8 codes of w = q * step (scale sw,
 *         per query). q . x^ = c0 + sum w_j u_j with u the level (the byte, or byte ^ 0x80 for
 *         int8-cal) and c0 = q . lo (+ sum w / 2 for truncated codes). */
#define VEC_SCORE_HDR 64
static inline size_t vec_score_pad64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Integer dot products are exact in int32 when d * 127 * 127 < 2^31, i.e. d <= 133,144. Above
 * that the codec uses the scalar kernel, which accumulates in int64 (same results, slower). */
#define VEC_SCORE_I8_MAX_D 131072

/* int8 query x int8 codes: ip[j*ldo + r] = vec_score_i8_out(sq_j, scales[r], dot(q_j, x_r)). Rows
 * at codes + r*d (no padding: the last row may end at a guard page). */
typedef void (*vec_score_i8_fn)(const uint8_t *qs, size_t qstride, size_t nq, const int8_t *codes,
                                const float *scales, size_t nr, size_t d, float *ip, size_t ldo);
/* binary: ip[j*ldo + r] = mq_j * (d - 2 * hamming(q_j, x_r)); rows of ceil(d/8) bytes. Pad bits of
 * a row's last byte are ignored whatever they hold. */
typedef void (*vec_score_b1_fn)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                size_t nr, size_t d, float *ip, size_t ldo);
/* Float query x f16 or bf16 codes (rows of 2d bytes, little-endian). Float sums in an order fixed
 * per ISA: a row's result does not depend on nr, nq or its neighbours. */
typedef void (*vec_score_h_fn)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                               size_t nr, size_t d, float *ip, size_t ldo);
/* Float query x int16 codes (rows of 2d bytes) with one scale a row: ip = s * (float dot), the dot
 * summed like f16's. */
typedef void (*vec_score_i16_fn)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                 const float *scales, size_t nr, size_t d, float *ip, size_t ldo);

/* int4 query (int8 codes) x int4 codes with groups of g dims (g = d: one scale per row; scales at
 * stride ceil(d/g) floats): ip = sq * sum_g s_g * dot_g, the group sums in order. */
static inline size_t vec_score_i4_corr_off(size_t d) {
  return VEC_SCORE_HDR + 2 * vec_score_pad64((d + 1) / 2) + vec_score_pad64(d);
}
/* Whether the transposed-tile int4 kernels (score_i4g_tmpl.h) take this shape: one group a row,
 * or groups of a multiple of 8 dims (so each starts on a dword of code bytes); d <= 4096 and at
 * most 256 groups, so the transposed tile fits its stack buffers. */
static inline int vec_score_i4g_fits(size_t d, size_t g) {
  size_t ng = (d + g - 1) / g;
  return d <= 4096 && ng <= 256 && (ng == 1 || g % 8 == 0);
}
typedef void (*vec_score_i4_fn)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                const float *scales, size_t nr, size_t d, size_t g, float *ip,
                                size_t ldo);

/* Calibrated codes (u8 levels after ^ flip: 0 or 0x80) x the int8 weights:
 * ip = vec_score_u8_out(c0, sw, dot). Integer dots exact in int32 for d <= VEC_SCORE_U8_MAX_D. */
typedef void (*vec_score_u8_fn)(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                                size_t nr, size_t d, unsigned flip, float *ip, size_t ldo);
#define VEC_SCORE_U8_MAX_D 65536 /* 255 * 127 * d < 2^31 */

typedef struct vec_score_kernels {
  vec_score_i8_fn i8;
  vec_score_i8_fn i8_vnni; /* AVX-512 VNNI; NULL elsewhere */
  vec_score_i8_fn i8_dot;  /* AArch64 SDOT (VEC_CPU_DOTPROD); NULL elsewhere */
  vec_score_b1_fn b1;
  vec_score_b1_fn b1_popcnt; /* AVX-512 VPOPCNTDQ; NULL elsewhere */
  vec_score_h_fn f16;        /* needs F16C on x86 */
  vec_score_h_fn bf16;
  vec_score_i16_fn i16;
  vec_score_i4_fn i4;      /* any g; SIMD variants hand shapes they do not take to the scalar one */
  vec_score_i4_fn i4_vnni; /* AVX-512 VNNI; NULL elsewhere */
  vec_score_i4_fn i4_dot;  /* AArch64 SDOT (VEC_CPU_DOTPROD); NULL elsewhere */
  vec_score_u8_fn u8;
  vec_score_u8_fn u8_vnni; /* AVX-512 VNNI; NULL elsewhere */
} vec_score_kernels;

VEC_HIDDEN extern const vec_score_kernels vec_score_table_scalar;
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN extern const vec_score_kernels vec_score_table_avx2;
VEC_HIDDEN extern const vec_score_kernels vec_score_table_avx512;
/* int4 with one scale a row, straight from row-major codes (few queries: no transpose). */
VEC_HIDDEN void vec_score_i4_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                       const uint8_t *codes, const float *scales, size_t nr,
                                       size_t d, size_t g, float *ip, size_t ldo);
/* int4 in groups of 32 dims, d % 64 == 0, row-major codes (few queries: no transpose). */
VEC_HIDDEN void vec_score_i4g32_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                          const uint8_t *codes, const float *scales, size_t nr,
                                          size_t d, float *ip, size_t ldo);
VEC_HIDDEN void vec_score_u8_rows_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                       const uint8_t *codes, size_t nr, size_t d, unsigned flip,
                                       float *ip, size_t ldo);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN extern const vec_score_kernels vec_score_table_neon;
#endif

/* The best kernel of each kind for the active ISA and this CPU's optional features. */
VEC_HIDDEN vec_score_i8_fn vec_score_pick_i8(size_t d);
VEC_HIDDEN vec_score_b1_fn vec_score_pick_b1(void);
VEC_HIDDEN vec_score_h_fn vec_score_pick_f16(void);
VEC_HIDDEN vec_score_h_fn vec_score_pick_bf16(void);
VEC_HIDDEN vec_score_i16_fn vec_score_pick_i16(void);
VEC_HIDDEN vec_score_i4_fn vec_score_pick_i4(size_t d);
VEC_HIDDEN vec_score_u8_fn vec_score_pick_u8(size_t d);

/* ---- Shared epilogues: one formula, so that every ISA gives the same bits. ---- */
static inline float vec_score_hdr_f32(const uint8_t *qs) {
  float v;
  memcpy(&v, qs, sizeof v);
  return v;
}
static inline int32_t vec_score_hdr_i32(const uint8_t *qs, size_t off) {
  int32_t v;
  memcpy(&v, qs + off, sizeof v);
  return v;
}
static inline float vec_score_i8_out(float sq, float s, int64_t dot) {
  return (sq * s) * (float)dot;
}
static inline float vec_score_b1_out(float mq, size_t d, uint64_t ham) {
  return mq * (float)((int64_t)d - 2 * (int64_t)ham);
}
static inline float vec_score_i4_out1(float sq, float s, int64_t dot) {
  return sq * (s * (float)dot);
}
static inline float vec_score_i16_out(float s, float dot) { return s * dot; }
static inline float vec_score_u8_out(float c0, float sw, int64_t dot) {
  return c0 + sw * (float)dot;
}
/* Sign-extends a 4-bit two's complement nibble. */
static inline int32_t vec_score_nib(unsigned v) { return (int32_t)((v & 15u) ^ 8u) - 8; }
/* Mask of the valid bits of a binary row's last byte (packbits: element 0 in bit 7). */
static inline uint8_t vec_score_b1_lastmask(size_t d) {
  unsigned r = (unsigned)(d % 8);
  return (uint8_t)(r ? 0xffu << (8 - r) : 0xffu);
}

/* Scalar building blocks the SIMD files reuse for rows they do not special-case. */
VEC_HIDDEN int64_t vec_score_i8_dot_scalar(const int8_t *q, const int8_t *x, size_t d);
VEC_HIDDEN void vec_score_i4_scalar(const uint8_t *qs, size_t qstride, size_t nq,
                                    const uint8_t *codes, const float *scales, size_t nr, size_t d,
                                    size_t g, float *ip, size_t ldo);
VEC_HIDDEN void vec_score_u8_scalar(const uint8_t *qs, size_t qstride, size_t nq,
                                    const uint8_t *codes, size_t nr, size_t d, unsigned flip,
                                    float *ip, size_t ldo);
VEC_HIDDEN uint64_t vec_score_b1_ham_scalar(const uint8_t *q, const uint8_t *x, size_t d);

#endif
