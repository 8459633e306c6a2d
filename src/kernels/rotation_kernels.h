/* rotation_kernels.h: the kernels of the structured rotation (codecs/rotation.c): an unnormalised
 * fast Walsh-Hadamard transform and an element-wise multiply, one pair per instruction set. */
#ifndef VEC_ROTATION_KERNELS_H
#define VEC_ROTATION_KERNELS_H

#include <stddef.h>

#include "../common/internal.h"

/* In place, unnormalised, with the diagonal before it fused in: x <- H_p (m .* x) for p a power of
 * two (p >= 1). Stages run h = 1, 2, 4, ..., p/2, each butterfly (a, b) -> (a + b, a - b) on
 * x[i + j], x[i + j + h]. Every variant performs the same products and butterflies on the same
 * operands (in another order across independent butterflies), so all give the scalar reference's
 * bits exactly. */
typedef void (*vec_rotation_fwht_fn)(float *x, const float *m, size_t p);
/* x[i] *= m[i] for i < n. */
typedef void (*vec_rotation_vmul_fn)(float *x, const float *m, size_t n);
/* One butterfly stage of arbitrary span after the diagonal m: with a = m[i] x[i] and
 * b = m[i + h] x[i + h], (x[i], x[i + h]) <- (a + b, a - b) for i < h (a "Kac walk" step that
 * mixes the two halves of a vector of any length). */
typedef void (*vec_rotation_kac_fn)(float *x, const float *m, size_t h);

VEC_HIDDEN void vec_rotation_fwht_scalar(float *x, const float *m, size_t p);
VEC_HIDDEN void vec_rotation_vmul_scalar(float *x, const float *m, size_t n);
VEC_HIDDEN void vec_rotation_kac_scalar(float *x, const float *m, size_t h);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_rotation_fwht_avx2(float *x, const float *m, size_t p);
VEC_HIDDEN void vec_rotation_vmul_avx2(float *x, const float *m, size_t n);
VEC_HIDDEN void vec_rotation_kac_avx2(float *x, const float *m, size_t h);
VEC_HIDDEN void vec_rotation_fwht_avx512(float *x, const float *m, size_t p);
VEC_HIDDEN void vec_rotation_vmul_avx512(float *x, const float *m, size_t n);
VEC_HIDDEN void vec_rotation_kac_avx512(float *x, const float *m, size_t h);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN void vec_rotation_fwht_neon(float *x, const float *m, size_t p);
VEC_HIDDEN void vec_rotation_vmul_neon(float *x, const float *m, size_t n);
VEC_HIDDEN void vec_rotation_kac_neon(float *x, const float *m, size_t h);
#endif

/* Fully unrolls the loop after it (constant trip count), so that an array of vector registers
 * indexed by its counter stays in registers: GCC needs its unroll pragma, clang its own. */
#if defined(__clang__)
#define VEC_UNROLL_FULL _Pragma("clang loop unroll(full)")
#else
#define VEC_UNROLL_FULL _Pragma("GCC unroll 16")
#endif

/* Pairs i in [from, h) of vec_kac: the SIMD variants' tail. */
static inline void vec_rotation_kac_tail_scalar(float *x, const float *m, size_t from, size_t h) {
  for (size_t i = from; i < h; i++) {
    float a = m[i] * x[i], b = m[i + h] * x[i + h];
    x[i] = a + b;
    x[i + h] = a - b;
  }
}

#endif
