/* search_kernels.h: the dot-product kernels of the flat search, one per instruction set.
 * A kernel's per-row arithmetic must not depend on how many rows it is given, so that a row scores
 * the same bits in any tile, chunk or thread (and in vec_rescore). Variants differ from each other
 * in rounding (FMA, lane count): within one process only one is active. */
#ifndef VEC_SEARCH_KERNELS_H
#define VEC_SEARCH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

/* out[r] = q . rows[i * ld .. + d) for r in [0, nr), where i = idx[r], or r when idx is NULL
 * (rescoring gathers candidate rows four at a time, for the memory parallelism of a block). */
#define VEC_DOTS_ROW(rows, ld, idx, r) ((rows) + (size_t)((idx) ? (idx)[r] : (r)) * (ld))
typedef void (*vec_search_dots_fn)(const float *q, const float *rows, size_t ld,
                                   const uint64_t *idx, size_t nr, size_t d, float *out);

VEC_HIDDEN void vec_search_dots_scalar(const float *q, const float *rows, size_t ld,
                                       const uint64_t *idx, size_t nr, size_t d, float *out);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_search_dots_avx2(const float *q, const float *rows, size_t ld,
                                     const uint64_t *idx, size_t nr, size_t d, float *out);
VEC_HIDDEN void vec_search_dots_avx512(const float *q, const float *rows, size_t ld,
                                       const uint64_t *idx, size_t nr, size_t d, float *out);
#endif

#endif
