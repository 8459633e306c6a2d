/* kernels.h: the per-instruction-set kernel table and the signatures every variant implements.
 * Kernels never allocate and never validate arguments: checks live one layer up, in the codecs. */
#ifndef VEC_KERNELS_H
#define VEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

/* Kernel flags. */
#define VEC_KF_STREAM 1u /* output will not be read soon: non-temporal stores where aligned */

/* Encodes rows [0, n) (row i at x + i*ldx, codes at q + i*ldq, scale at scales[i]).
 * Returns the index of the first row holding NaN or Inf (stopping there), or n. */
typedef size_t (*vec_encode_int8_fn)(const float *x, size_t n, size_t d, size_t ldx, int8_t *q,
                                     size_t ldq, float *scales, unsigned flags);
/* Decodes rows [0, n): out[i*ldo + j] = q[i*ldq + j] * scales[i]. */
typedef void (*vec_decode_int8_fn)(const int8_t *q, size_t n, size_t d, size_t ldq,
                                   const float *scales, float *out, size_t ldo, unsigned flags);

typedef struct vec_kernels {
  vec_isa isa;
  vec_encode_int8_fn encode_int8;
  vec_decode_int8_fn decode_int8;
} vec_kernels;

/* The table for the active instruction set; filled on first use (thread-safe, idempotent). */
VEC_HIDDEN const vec_kernels *vec_kernels_get(void);

/* Tables per instruction set; a table exists only where its file was compiled for this target. */
VEC_HIDDEN extern const vec_kernels vec_kernels_scalar;
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN extern const vec_kernels vec_kernels_avx2;
VEC_HIDDEN extern const vec_kernels vec_kernels_avx512;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN extern const vec_kernels vec_kernels_neon;
#endif

/* Scalar kernels, exported so that SIMD variants can hand them rows they do not special-case. */
VEC_HIDDEN size_t vec_encode_int8_scalar(const float *x, size_t n, size_t d, size_t ldx, int8_t *q,
                                         size_t ldq, float *scales, unsigned flags);
VEC_HIDDEN void vec_decode_int8_scalar(const int8_t *q, size_t n, size_t d, size_t ldq,
                                       const float *scales, float *out, size_t ldo, unsigned flags);

#endif
