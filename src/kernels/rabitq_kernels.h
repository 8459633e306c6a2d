/* rabitq_kernels.h: inner loops of the rabitq codec (codecs/rabitq.c), one set per instruction
 * set, all generated from rabitq_tmpl.h. Integer dot products are exact and the float code-search
 * sums use a fixed 16-lane order, so every variant gives the scalar reference's results bit for
 * bit. */
#ifndef VEC_RABITQ_KERNELS_H
#define VEC_RABITQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

/* Lanes of the code-search sums; callers pad o to a multiple of this with zeros. */
#define VEC_RQ_LANES 16

/* For the grid scale t: f_j = clamp(floor(t o_j), fmin, fmax), y_j = 2 f_j + 1 over the dp
 * (a multiple of VEC_RQ_LANES, zero padded) coordinates; *ip = sum y_j o_j, *nn = sum y_j^2 (pad
 * coordinates add 1 each to nn, 0 to ip); where u is not NULL, u[j] = f_j - fmin (dp bytes). */
typedef void (*vec_rabitq_eval_fn)(const float *o, size_t dp, float t, float fmin, float fmax,
                                   uint8_t *u, float *ip, float *nn);
/* eval's ip[i] and nn[i] for the nt scales t[i] (no u), bit for bit, in fewer passes over o. */
typedef void (*vec_rabitq_evaln_fn)(const float *o, size_t dp, const float *t, size_t nt,
                                    float fmin, float fmax, float *ip, float *nn);
/* mode 0: sum of x_j^2, 1: sum of |x_j|, 2: max |x_j|, over j < n, in VEC_RQ_LANES lanes (lane
 * j % lanes) combined in a fixed tree. */
typedef float (*vec_rabitq_sum_fn)(const float *x, size_t n, int mode);
/* out[r] = sum_j q_j u_j for nr rows of codes (rows cs bytes apart), b in 2..8, each u_j < 2^b.
 * b == 2 or 4, rabitq.c's packed layout: q[s cs + k] pairs with the s-th b-bit field of byte k
 * (element (8 / b) k + s). Otherwise one byte per element, u_j = byte j of the row (rabitq.c's
 * layout at b = 8, vec_rabitq_unpack's output at b = 3, 5, 6, 7), paired with q[j], j < d. */
typedef void (*vec_rabitq_dot_fn)(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr,
                                  size_t d, unsigned b, int64_t *out);
/* b = 3, 5, 6 or 7: out[r ldo + j] = element j of row r (rabitq.c's packed layout, rows cs bytes
 * apart) for j < d, reading only the first ceil(d b / 8) bytes of each row. Writes
 * VEC_RQ_UNPACK_PAD(d) bytes of each out row (ldo at least that); those past d are unspecified. */
typedef void (*vec_rabitq_unpack_fn)(const uint8_t *codes, size_t cs, size_t nr, size_t d,
                                     unsigned b, uint8_t *out, size_t ldo);
#define VEC_RQ_UNPACK_PAD(d) (((d) + 7) / 8 * 8)
/* b == 1: out[r] = sum_j (qu_j - 128) u_j with qu given as 8 bit planes, interleaved by word:
 * planes[8 i + k] holds bit k of qu_j for j in [64 i, 64 i + 64) (bit j % 64); w words each. The
 * 8 w plane words are followed by the same query as 64 w int8 bytes, qu_j - 128 at j (0 past d),
 * for the kernels that select bytes by the code bits instead of counting them. */
typedef void (*vec_rabitq_dot1_fn)(const uint64_t *planes, size_t w, const uint8_t *codes,
                                   size_t cs, size_t nr, int64_t *out);

/* b == 1 codes: bit i of row[k] = (o[8 k + i] > 0) for the ceil(d / 8) bytes of a row. Reads
 * ceil(d / 8) * 8 floats (rabitq.c pads o with zeros, which give 0 bits). */
typedef void (*vec_rabitq_sign_fn)(const float *o, size_t d, uint8_t *row);
#define VEC_RQ_DECLARE(isa)                                                                        \
  VEC_HIDDEN void vec_rabitq_eval_##isa(const float *o, size_t dp, float t, float fmin,            \
                                        float fmax, uint8_t *u, float *ip, float *nn);             \
  VEC_HIDDEN void vec_rabitq_evaln_##isa(const float *o, size_t dp, const float *t, size_t nt,     \
                                         float fmin, float fmax, float *ip, float *nn);            \
  VEC_HIDDEN float vec_rabitq_sum_##isa(const float *x, size_t n, int mode);                       \
  VEC_HIDDEN void vec_rabitq_dot_##isa(const int8_t *q, const uint8_t *codes, size_t cs,           \
                                       size_t nr, size_t d, unsigned b, int64_t *out);             \
  VEC_HIDDEN void vec_rabitq_dot1_##isa(const uint64_t *planes, size_t w, const uint8_t *codes,    \
                                        size_t cs, size_t nr, int64_t *out);                       \
  VEC_HIDDEN void vec_rabitq_unpack_##isa(const uint8_t *codes, size_t cs, size_t nr, size_t d,    \
                                          unsigned b, uint8_t *out, size_t ldo);                   \
  VEC_HIDDEN void vec_rabitq_sign_##isa(const float *o, size_t d, uint8_t *row);
VEC_RQ_DECLARE(scalar)
#if defined(VEC_HAVE_X86_KERNELS)
VEC_RQ_DECLARE(avx2)
VEC_RQ_DECLARE(avx512)
/* AVX-512 with VPOPCNTDQ (checked by the caller): the eight plane popcounts of a word at once. */
VEC_HIDDEN void vec_rabitq_dot1_avx512vpop(const uint64_t *planes, size_t w, const uint8_t *codes,
                                           size_t cs, size_t nr, int64_t *out);
/* AVX-512 with VNNI (checked by the caller): the query bytes that a code word's bits select,
 * summed four at a time (VPDPBUSD with ones). */
VEC_HIDDEN void vec_rabitq_dot1_avx512vnni(const uint64_t *planes, size_t w, const uint8_t *codes,
                                           size_t cs, size_t nr, int64_t *out);
/* AVX-512 with VNNI (checked by the caller): byte products summed four at a time (VPDPBUSD). */
VEC_HIDDEN void vec_rabitq_dot_avx512vnni(const int8_t *q, const uint8_t *codes, size_t cs,
                                          size_t nr, size_t d, unsigned b, int64_t *out);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_RQ_DECLARE(neon)
#endif

#endif
