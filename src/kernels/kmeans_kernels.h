/* kmeans_kernels.h: nearest-centroid assignment (k-means, PQ encoding), one variant per ISA.
 * Centroids are stored transposed (ct[j * kp + c] = coordinate j of centroid c, kp = k rounded up
 * by vec_kmeans_kpad) so that one register holds one coordinate of many centroids and a row's
 * distances to them build up with broadcast multiply-adds, with no horizontal sums. */
#ifndef VEC_KMEANS_KERNELS_H
#define VEC_KMEANS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

#define VEC_KM_KPAD 64 /* four registers of 16 (AVX-512), 8 (AVX2) or 4 (NEON) centroids */

/* For rows i in [0, n) (row i at x + i * ldx, d floats): best[i] = the c in [0, k) minimising
 * cn[c] - 2 * (x_i . centroid c), the lowest such c on ties, and val[i] = that minimum (the squared
 * distance less |x_i|^2). cn holds kp = roundup(k, VEC_KM_KPAD) entries and ct's pad columns are 0.
 * Variants differ only in rounding (FMA, lane order), never in the tie rule. */
typedef void (*vec_kmeans_assign_fn)(const float *x, size_t n, size_t ldx, size_t d,
                                     const float *ct, const float *cn, size_t k, uint32_t *best,
                                     float *val);

VEC_HIDDEN void vec_kmeans_assign_scalar(const float *x, size_t n, size_t ldx, size_t d,
                                         const float *ct, const float *cn, size_t k, uint32_t *best,
                                         float *val);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_kmeans_assign_avx2(const float *x, size_t n, size_t ldx, size_t d,
                                       const float *ct, const float *cn, size_t k, uint32_t *best,
                                       float *val);
VEC_HIDDEN void vec_kmeans_assign_avx512(const float *x, size_t n, size_t ldx, size_t d,
                                         const float *ct, const float *cn, size_t k, uint32_t *best,
                                         float *val);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN void vec_kmeans_assign_neon(const float *x, size_t n, size_t ldx, size_t d,
                                       const float *ct, const float *cn, size_t k, uint32_t *best,
                                       float *val);
#endif

/* Up to 16 centroids (4-bit PQ) pad to 16 only, so that the kernels do not compute 48 padding
 * columns for 16 real ones; they take a path of their own for kp == 16. */
static inline size_t vec_kmeans_kpad(size_t k) {
  return k <= 16 ? 16 : (k + VEC_KM_KPAD - 1) / VEC_KM_KPAD * VEC_KM_KPAD;
}

#endif
