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

/* For the grid scale t: y_j = 2 clamp(floor(t o_j), fmin, fmax) + 1 over the dp (padded)
 * coordinates; *ip = sum y_j o_j, *nn = sum y_j^2 (pad coordinates add 1 each to nn, 0 to ip). */
typedef void (*vec_rq_eval_fn)(const float *o, size_t dp, float t, float fmin, float fmax,
                               float *ip, float *nn);
/* out[r] = sum_j q_j u_j for nr rows of B-bit codes u (rabitq.c's layout, rows cs bytes apart),
 * b in 2..8. q layout: b == 4: q[k] pairs with the low nibble of byte k, q[cs + k] with the high
 * one; otherwise q[j] pairs with element j. */
typedef void (*vec_rq_dot_fn)(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr, size_t d,
                              unsigned b, int64_t *out);
/* b == 1: out[r] = sum_j (qu_j - 128) u_j with qu given as 8 bit planes (plane k: w 64-bit words,
 * bit j of the plane = bit k of qu_j). */
typedef void (*vec_rq_dot1_fn)(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs,
                               size_t nr, int64_t *out);

#define VEC_RQ_DECLARE(isa)                                                                        \
  VEC_HIDDEN void vec_rq_eval_##isa(const float *o, size_t dp, float t, float fmin, float fmax,    \
                                    float *ip, float *nn);                                         \
  VEC_HIDDEN void vec_rq_dot_##isa(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr,    \
                                   size_t d, unsigned b, int64_t *out);                            \
  VEC_HIDDEN void vec_rq_dot1_##isa(const uint64_t *planes, size_t w, const uint8_t *codes,        \
                                    size_t cs, size_t nr, int64_t *out);
VEC_RQ_DECLARE(scalar)
#if defined(VEC_HAVE_X86_KERNELS)
VEC_RQ_DECLARE(avx2)
VEC_RQ_DECLARE(avx512)
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_RQ_DECLARE(neon)
#endif

#endif
